package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// -net user fails before KVM is touched when a forward's port is taken or
// the helper is missing: one line naming what is at fault, exit 1.
func TestNetUserErrors(t *testing.T) {
	dir := t.TempDir()
	defer func(old string) { kvmDevice = old }(kvmDevice)
	kvmDevice = filepath.Join(dir, "no-kvm")
	raw := filepath.Join(dir, "hlt.bin")
	if err := os.WriteFile(raw, []byte{0xf4}, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	missing := filepath.Join(dir, "govmm-usernet")
	t.Setenv("GOVMM_USERNET", missing)

	for _, c := range []struct {
		name, net, want string
	}{
		{"port in use", "user,hostfwd=tcp:127.0.0.1:" + port + "-:22",
			fmt.Sprintf("govmm: -net: user network: forward %s to guest port 22: bind: address already in use\n", addr)},
		{"no helper", "user",
			fmt.Sprintf("govmm: -net: user network: GOVMM_USERNET=%s: no such file or directory\n", missing)},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, "run", "-raw", raw, "-net", c.net)
			if code != 1 || stdout != "" || stderr != c.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, c.want)
			}
		})
	}
}
