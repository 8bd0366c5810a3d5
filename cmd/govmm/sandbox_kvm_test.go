//go:build kvm

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govmm/govmm/guests"
)

// asGovmm runs the test binary as govmm (TestMain), with the real sandbox.
func asGovmm(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asGovmmEnv+"=1")
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, &out, &errb
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func TestSandboxedRuns(t *testing.T) {
	requireKVM(t)
	write := tempFiles(t)
	spin := write("spin.bin", guests.Spin)
	profile := filepath.Join(t.TempDir(), "profile.txt")
	// The spin guest's jmp $ sits at the default load address.
	systemMap := write("System.map", []byte("0000000000010000 T spin_here\n"))
	for _, c := range []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"demo", []string{"demo"}, 0, guests.HelloGreeting + "3\n", ""},
		{"real mode", []string{"run", "-raw", write("real.bin", guests.RealMode), "-raw-mode", "real", "-v", "-stats"}, 0, "hello from real mode\n", "i8042"},
		// A crash report reads registers and guest code (KVM_GET_SREGS, KVM_TRANSLATE).
		{"triple fault", []string{"run", "-raw", write("ud2.bin", guests.TripleFault), "-raw-mode", "user"}, 4, "", "triple fault"},
		// The timeout, the sampler's kicks and -profile at 20 ms.
		{"timeout and profile", []string{"run", "-raw", spin, "-raw-mode", "user", "-timeout", "1500ms", "-profile", profile, "-system-map", systemMap, "-stats"}, 124, "", "timeout"},
	} {
		code, out, errs := asGovmm(t, c.args...)
		if code != c.code || out != c.out || !strings.Contains(errs, c.err) || strings.Contains(errs, "sandbox") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr with %q", c.name, code, out, errs, c.code, c.out, c.err)
		}
	}
	if b, err := os.ReadFile(profile); err != nil || !strings.Contains(string(b), "RIP samples") || !strings.Contains(string(b), "spin_here") {
		t.Errorf("-profile under the sandbox: %q, %v", b, err)
	}
}

// TestDemoInstallsSandbox: an in-process run asks for the sandbox once
// (TestMain counts instead of installing), and not with -sandbox=off.
func TestDemoInstallsSandbox(t *testing.T) {
	requireKVM(t)
	before := sandboxInstalls.Load()
	if code, _, errs := cli(t, "demo"); code != 0 || sandboxInstalls.Load() != before+1 {
		t.Fatalf("demo: exit %d, installs %d -> %d\n%s", code, before, sandboxInstalls.Load(), errs)
	}
	if code, _, errs := cli(t, "demo", "-sandbox=off"); code != 0 || sandboxInstalls.Load() != before+1 {
		t.Fatalf("demo -sandbox=off: exit %d, installs %d -> %d\n%s", code, before, sandboxInstalls.Load(), errs)
	}
}
