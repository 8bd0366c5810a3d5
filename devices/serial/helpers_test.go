package serial

import (
	"bytes"
	"sync"
	"testing"
)

// fakeIRQ records every SetLevel call and flags redundant ones (the UART
// promises to call SetLevel only when the level changes).
type fakeIRQ struct {
	mu        sync.Mutex
	level     bool
	calls     []bool
	redundant int
}

func (f *fakeIRQ) SetLevel(high bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if high == f.level {
		f.redundant++
	}
	f.level = high
	f.calls = append(f.calls, high)
}

func (f *fakeIRQ) get() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.level
}

// takeCalls returns the SetLevel calls since the last takeCalls.
func (f *fakeIRQ) takeCalls() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

type harness struct {
	t   *testing.T
	u   *UART
	irq *fakeIRQ
	out *bytes.Buffer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, irq: &fakeIRQ{}, out: &bytes.Buffer{}}
	h.u = New(h.out, h.irq)
	t.Cleanup(func() {
		if h.irq.redundant != 0 {
			t.Errorf("SetLevel called %d times without a level change", h.irq.redundant)
		}
	})
	return h
}

func (h *harness) rd(off uint64) byte {
	var b [1]byte
	h.u.Read(off, b[:])
	return b[0]
}

func (h *harness) wr(off uint64, v byte) { h.u.Write(off, []byte{v}) }

// expect reads the register at off and checks it against want.
func (h *harness) expect(off uint64, name string, want byte) {
	h.t.Helper()
	if got := h.rd(off); got != want {
		h.t.Errorf("%s = %#02x, want %#02x", name, got, want)
	}
}

// expectCalls checks the SetLevel calls made since the last check.
func (h *harness) expectCalls(want ...bool) {
	h.t.Helper()
	got := h.irq.takeCalls()
	if len(got) != len(want) {
		h.t.Errorf("SetLevel calls = %v, want %v", got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			h.t.Errorf("SetLevel calls = %v, want %v", got, want)
			return
		}
	}
}

func (h *harness) input(s string) {
	h.t.Helper()
	if n := h.u.Input([]byte(s)); n != len(s) {
		h.t.Fatalf("Input(%q) = %d, want %d", s, n, len(s))
	}
}
