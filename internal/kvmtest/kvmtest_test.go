package kvmtest

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a test ended instead of ending it.
type recorder struct {
	testing.TB
	how, msg string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Log(args ...any)              { r.how, r.msg = "log", fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.how, r.msg = "fatal", fmt.Sprintf(f, args...) }
func (r *recorder) Skipf(f string, args ...any)  { r.how, r.msg = "skip", fmt.Sprintf(f, args...) }

func TestRequireFailsInCIAndSkipsOnlyOutside(t *testing.T) {
	old := device
	device = "/nonexistent/kvm"
	defer func() { device = old }()
	for _, c := range []struct {
		ci, require, how string
	}{
		{"", "", "skip"},
		{"true", "", "fatal"},
		{"", "1", "fatal"},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv(RequireEnv, c.require)
		r := &recorder{TB: t}
		Require(r)
		if r.how != c.how || !strings.Contains(r.msg, "/nonexistent/kvm") {
			t.Errorf("CI=%q %s=%q: %s %q, want %s", c.ci, RequireEnv, c.require, r.how, r.msg, c.how)
		}
	}
}

func TestHostNameAndWhatItCanDo(t *testing.T) {
	h := Host{Name: "nested", EmulatedRing0: false, Why: "hardware virtualization (svm)"}
	if !h.UserSpaceWorks() || h.String() != "host: nested (hardware virtualization (svm))" {
		t.Fatalf("%v %q", h.UserSpaceWorks(), h)
	}
	if (Host{EmulatedRing0: true}).UserSpaceWorks() {
		t.Fatal("user space reported working on an emulated-ring-0 host")
	}
}
