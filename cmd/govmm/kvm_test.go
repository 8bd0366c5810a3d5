//go:build kvm

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/internal/kvmtest"
)

// requireKVM opens /dev/kvm and logs the host (package kvmtest).
func requireKVM(t *testing.T) kvmtest.Host {
	t.Helper()
	return kvmtest.Require(t)
}

func TestDemoPrintsGreetingAndExits0(t *testing.T) {
	requireKVM(t)
	code, out, errs := cli(t, "demo")
	if code != 0 || out != guests.HelloGreeting+"3\n" {
		t.Fatalf("demo: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestProbeReportsHost(t *testing.T) {
	h := requireKVM(t)
	code, out, errs := cli(t, "probe")
	if code != 0 || !strings.Contains(out, "KVM API version: 12") || !strings.Contains(out, "verdict: guest ring 0") {
		t.Fatalf("probe: exit %d\n%s\n%s", code, out, errs)
	}
	// The verdict must match the host: emulated on kvm_pvm, hardware on
	// VT-x/AMD-V (the nested test host).
	want := "verdict: guest ring 0 runs in hardware"
	if h.EmulatedRing0 {
		want = "verdict: guest ring 0 is emulated"
	}
	if !strings.Contains(out, want) {
		t.Fatalf("%s: probe lacks %q:\n%s", h, want, out)
	}
}

func TestRawExitCodes(t *testing.T) {
	requireKVM(t)
	write := tempFiles(t)
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"real mode hello", []string{"run", "-raw", write("real.bin", guests.RealMode), "-raw-mode", "real"}, 0},
		{"triple fault", []string{"run", "-raw", write("ud2.bin", guests.TripleFault), "-raw-mode", "user"}, 4},
		{"timeout", []string{"run", "-raw", write("spin.bin", guests.Spin), "-raw-mode", "user", "-timeout", "300ms"}, 124},
	} {
		if code, _, errs := cli(t, c.args...); code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, c.code, errs)
		}
	}
}

// tempFiles returns a function that writes b to a new file name in one
// temporary directory of t and returns its path.
func tempFiles(t *testing.T) func(name string, b []byte) string {
	dir := t.TempDir()
	return func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
