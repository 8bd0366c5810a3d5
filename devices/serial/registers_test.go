package serial

import (
	"bytes"
	"errors"
	"testing"
)

// Reset values from PC16550D Table III: IER=0, IIR=0x01 (no interrupt,
// FIFOs off), LCR=0, MCR=0, LSR=0x60 (THRE|TEMT), MSR bits 0-3 = 0 and bits
// 4-7 = the inputs (here CTS, DSR, DCD asserted: 0xb0).
func TestResetValues(t *testing.T) {
	h := newHarness(t)
	h.expect(regIER, "IER", 0x00)
	h.expect(regIIR, "IIR", 0x01)
	h.expect(regLCR, "LCR", 0x00)
	h.expect(regMCR, "MCR", 0x00)
	h.expect(regLSR, "LSR", 0x60)
	h.expect(regMSR, "MSR", 0xb0)
	h.expect(regSCR, "SCR", 0x00)
	h.wr(regLCR, 0x80)
	h.expect(0, "DLL", 0x0c) // 9600 baud at 1.8432 MHz
	h.expect(1, "DLM", 0x00)
	h.expectCalls() // the line starts low and nobody touched it
	if h.out.Len() != 0 {
		t.Errorf("reset produced output %q", h.out.Bytes())
	}
}

// 8.1: LCR bit 7 (DLAB) switches offsets 0 and 1 to the divisor latch.
func TestDLABSwitching(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0x05)
	h.wr(regLCR, 0x83) // DLAB + 8N1
	h.expect(regLCR, "LCR", 0x83)
	h.wr(0, 0x01) // DLL: 115200 baud
	h.wr(1, 0x02) // DLM
	h.expect(0, "DLL", 0x01)
	h.expect(1, "DLM", 0x02)
	if h.out.Len() != 0 {
		t.Errorf("DLL write was transmitted: %q", h.out.Bytes())
	}
	h.wr(regLCR, 0x03)
	h.expect(regIER, "IER", 0x05) // untouched by the DLM write
	h.wr(0, 'A')                  // now THR
	if got := h.out.String(); got != "A" {
		t.Errorf("output = %q, want %q", got, "A")
	}
	h.wr(regLCR, 0x83)
	h.expect(0, "DLL", 0x01) // untouched by the THR write
	h.expect(1, "DLM", 0x02)
}

// IER bits 4-7 and MCR bits 5-7 are always 0 (8.7, 8.8).
func TestReservedBitsReadZero(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0xf0)
	h.expect(regIER, "IER", 0x00)
	h.wr(regMCR, 0xe3)
	h.expect(regMCR, "MCR", 0x03)
}

// 8.10: the scratch register holds any byte and affects nothing.
func TestScratch(t *testing.T) {
	h := newHarness(t)
	for _, v := range []byte{0x00, 0x55, 0xaa, 0xff} {
		h.wr(regSCR, v)
		h.expect(regSCR, "SCR", v)
	}
	h.expect(regLSR, "LSR", 0x60)
	h.expect(regIIR, "IIR", 0x01)
}

func TestLSRAndMSRWritesIgnored(t *testing.T) {
	h := newHarness(t)
	h.wr(regLSR, 0xff)
	h.wr(regMSR, 0xff)
	h.expect(regLSR, "LSR", 0x60)
	h.expect(regMSR, "MSR", 0xb0)
	h.expect(regIIR, "IIR", 0x01)
}

func TestWideAndOutOfRangeAccess(t *testing.T) {
	h := newHarness(t)
	h.wr(regSCR, 0x42)
	buf := []byte{0, 0, 0, 0}
	h.u.Read(regSCR, buf)
	if !bytes.Equal(buf, []byte{0x42, 0xff, 0xff, 0xff}) {
		t.Errorf("4-byte read = % x, want 42 ff ff ff", buf)
	}
	buf = []byte{0, 0}
	h.u.Read(8, buf)
	if !bytes.Equal(buf, []byte{0xff, 0xff}) {
		t.Errorf("read at offset 8 = % x, want ff ff", buf)
	}
	h.u.Read(0, nil)
	h.u.Write(0, nil)
	h.u.Write(8, []byte{'x'})
	h.u.Write(regSCR, []byte{0x17, 0x99}) // only data[0] counts
	h.expect(regSCR, "SCR", 0x17)
	if h.out.Len() != 0 {
		t.Errorf("unexpected output %q", h.out.Bytes())
	}
}

func TestTransmit(t *testing.T) {
	h := newHarness(t)
	for _, c := range []byte("hello, world\r\n") {
		h.wr(0, c)
		// 8.4: THRE and TEMT stay set: the transmit is instantaneous.
		h.expect(regLSR, "LSR", 0x60)
	}
	if got := h.out.String(); got != "hello, world\r\n" {
		t.Errorf("output = %q", got)
	}
	h.expectCalls() // no interrupt enabled, line never moved
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("broken pipe")
}

func TestTransmitErrorsAreCounted(t *testing.T) {
	w := &failWriter{}
	u := New(w, nil)
	for _, c := range []byte("abc") {
		u.Write(0, []byte{c})
	}
	if w.n != 3 {
		t.Errorf("writer called %d times, want 3", w.n)
	}
	if got := u.OutputErrors(); got != 3 {
		t.Errorf("OutputErrors() = %d, want 3", got)
	}
}

func TestNilOutputAndIRQ(t *testing.T) {
	u := New(nil, nil)
	u.Write(regIER, []byte{0x0f})
	u.Write(0, []byte{'x'})
	u.Input([]byte("y"))
	var b [1]byte
	u.Read(regIIR, b[:])
	if b[0] != 0x04 { // received data available
		t.Errorf("IIR = %#02x, want 0x04", b[0])
	}
}
