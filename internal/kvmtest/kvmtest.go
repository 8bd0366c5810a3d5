// Package kvmtest is the one place where a KVM or end-to-end test learns
// which host it runs on and what that host can do.
//
// Tests that need /dev/kvm live in files built only with the "kvm" build tag
// (`go test -tags kvm`), so a plain `go test ./...` runs the unit tests alone
// and never skips for want of KVM. `make test` runs the kvm-tagged tests on
// every KVM host the machine offers: its own /dev/kvm (host "host") and the
// nested test host (host "nested", see package nestedhost).
package kvmtest

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/kvm"
)

// Environment variables that the test runners set.
const (
	// HostEnv names the host the tests run on: "host" for the machine's
	// own KVM, a word starting with "nested" for the nested test host.
	HostEnv = "GOVMM_TEST_HOST"
	// RequireEnv, when "1", turns a missing /dev/kvm into a failure.
	RequireEnv = "GOVMM_REQUIRE_KVM"
)

// Host describes the KVM host a test runs on.
type Host struct {
	// Name is GOVMM_TEST_HOST, or "host" when it is unset.
	Name string
	// EmulatedRing0 is true on a host whose KVM emulates guest ring 0
	// (kvm_pvm): there, guest user space cannot make system calls.
	EmulatedRing0 bool
	// Why says how EmulatedRing0 was decided.
	Why string
}

// UserSpaceWorks reports whether a guest's user space can make system calls
// here: true wherever ring 0 runs in hardware (VT-x/AMD-V, nested or not).
func (h Host) UserSpaceWorks() bool { return !h.EmulatedRing0 }

// String is the line each test logs: "host: nested (hardware virtualization (svm))".
func (h Host) String() string { return fmt.Sprintf("host: %s (%s)", h.Name, h.Why) }

var (
	once    sync.Once
	current Host
)

// Current returns the host the tests run on. It reads /proc and /sys once.
func Current() Host {
	once.Do(func() {
		info := compat.DetectHost()
		name := os.Getenv(HostEnv)
		if name == "" {
			name = "host"
		}
		current = Host{Name: name, EmulatedRing0: info.EmulatedRing0, Why: info.Why}
	})
	return current
}

// device is the KVM device Require opens; tests point it elsewhere.
var device = "/dev/kvm"

// mustRun reports whether a test that cannot open /dev/kvm must fail rather
// than skip: in CI, and wherever a runner has promised KVM.
func mustRun() bool { return os.Getenv("CI") != "" || os.Getenv(RequireEnv) == "1" }

// Require opens /dev/kvm and logs which host the test runs on. Where
// /dev/kvm cannot be opened it fails the test when CI or GOVMM_REQUIRE_KVM=1
// is set, and skips it (saying why) only on a developer's machine.
func Require(tb testing.TB) Host {
	tb.Helper()
	s, err := kvm.Open(device)
	if err != nil {
		if mustRun() {
			tb.Fatalf("KVM test cannot open %s (%v); CI or %s=1 forbids skipping: run it on the nested host (make test does)", device, err, RequireEnv)
			return Host{} // not reached with a real *testing.T
		}
		tb.Skipf("SKIP: KVM test needs %s, which cannot be opened: %v (make test runs it on the nested host)", device, err)
		return Host{}
	}
	s.Close()
	h := Current()
	tb.Log(h.String())
	return h
}
