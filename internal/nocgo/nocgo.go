// Package nocgo lets a test that runs code under govmm's seccomp filter
// insist on a test binary without cgo, like the release build (make build
// is CGO_ENABLED=0). With cgo, new threads come from glibc's
// pthread_create, which reads /sys/devices/system/cpu/online while SIGSYS
// is blocked: under the filter the kernel then kills the process with no
// message, at random (SECURITY.md). make test exports CGO_ENABLED=0.
package nocgo

import "testing"

// Require fails t, with the reason and the fix, when this binary was built
// with cgo.
func Require(t testing.TB) {
	t.Helper()
	if cgo {
		t.Fatal("this test runs code under govmm's seccomp filter and needs a test binary without cgo, like govmm's own build: run it with CGO_ENABLED=0 (make test does). With cgo, glibc's thread creation makes a forbidden system call with SIGSYS blocked, and the kernel kills the process at random.")
	}
}
