package serial

import (
	"bytes"
	"sync"
	"testing"
)

func TestInputPartialFIFO(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0x01)
	p := make([]byte, 5000)
	for i := range p {
		p[i] = byte(i)
	}
	want := FIFOSize + InputBufferSize
	if n := h.u.Input(p); n != want {
		t.Fatalf("Input(5000 bytes) = %d, want %d", n, want)
	}
	if n := h.u.Input(p[want:]); n != 0 {
		t.Fatalf("Input when full = %d, want 0", n)
	}
	h.expect(0, "RBR", 0)
	if n := h.u.Input(p[want:]); n != 1 {
		t.Fatalf("Input after one read = %d, want 1", n)
	}
	for i := 1; i <= want; i++ {
		h.expect(0, "RBR", byte(i))
	}
	h.expect(regLSR, "LSR", 0x60)
}

func TestInputPartialNonFIFO(t *testing.T) {
	h := newHarness(t)
	p := bytes.Repeat([]byte{'q'}, 5000)
	if n, want := h.u.Input(p), 1+InputBufferSize; n != want {
		t.Fatalf("Input = %d, want %d", n, want)
	}
	if n := h.u.Input(p); n != 0 {
		t.Fatalf("Input when full = %d, want 0", n)
	}
}

// 8.8: in loopback the receiver is disconnected from the line; host input
// waits and arrives once loopback ends.
func TestInputHeldDuringLoopback(t *testing.T) {
	h := newHarness(t)
	h.wr(regMCR, 0x10)
	h.input("hi")
	h.expect(regLSR, "LSR", 0x60)
	h.wr(0, 'L')
	h.expect(0, "RBR", 'L')
	h.wr(regMCR, 0x00)
	h.expect(0, "RBR", 'h')
	h.expect(0, "RBR", 'i')
	h.expect(regLSR, "LSR", 0x60)
}

// Input from one goroutine while another reads: every byte arrives once, in
// order. Run with -race to check the locking.
func TestConcurrentInput(t *testing.T) {
	irq := &fakeIRQ{}
	u := New(nil, irq)
	u.Write(regIIR, []byte{0x81})
	u.Write(regIER, []byte{0x03})
	const total = 20000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var p [7]byte
		for sent := 0; sent < total; {
			k := min(len(p), total-sent)
			for i := 0; i < k; i++ {
				p[i] = byte(sent + i)
			}
			sent += u.Input(p[:k])
		}
	}()
	var b [1]byte
	for got := 0; got < total; {
		u.Read(regLSR, b[:])
		if b[0]&lsrDR == 0 {
			u.Read(regIIR, b[:])
			continue
		}
		u.Read(0, b[:])
		if b[0] != byte(got) {
			t.Fatalf("byte %d = %#02x, want %#02x", got, b[0], byte(got))
		}
		got++
	}
	wg.Wait()
	if irq.redundant != 0 {
		t.Errorf("%d redundant SetLevel calls", irq.redundant)
	}
}
