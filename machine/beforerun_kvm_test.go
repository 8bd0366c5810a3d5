//go:build kvm

package machine

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/govmm/govmm/guests"
)

// TestBeforeRunRunsOnceBeforeTheGuest: the hook (sandbox.Install in govmm)
// runs once, before the guest has executed anything.
func TestBeforeRunRunsOnceBeforeTheGuest(t *testing.T) {
	requireKVM(t)
	var out bytes.Buffer
	calls, consoleAtCall := 0, "unset"
	m, err := New(Config{MemSize: 16 << 20, RawImage: guests.Hello, RawMode: RawUser, Console: &out,
		BeforeRun: func() error { calls++; consoleAtCall = out.String(); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := m.Run(ctx)
	if res.Code != ExitOK || calls != 1 || consoleAtCall != "" || out.String() != guests.HelloGreeting+"3\n" {
		t.Fatalf("result %v, %d calls, console at the call %q, console %q", res, calls, consoleAtCall, out.String())
	}
}

// TestBeforeRunErrorEndsTheRun: a failing hook ends the run with ExitError
// and its message, and the guest never runs.
func TestBeforeRunErrorEndsTheRun(t *testing.T) {
	requireKVM(t)
	var out bytes.Buffer
	m, err := New(Config{MemSize: 16 << 20, RawImage: guests.Hello, RawMode: RawUser, Console: &out,
		BeforeRun: func() error { return errors.New("sandbox: no seccomp here") }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	res := m.Run(context.Background())
	if res.Code != ExitError || res.Reason != "sandbox: no seccomp here" || out.Len() != 0 {
		t.Fatalf("result %v, console %q", res, out.String())
	}
}
