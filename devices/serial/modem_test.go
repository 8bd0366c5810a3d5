package serial

import "testing"

// 8.8 MCR bit 4: in loopback RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
func TestLoopbackModemMapping(t *testing.T) {
	for _, tc := range []struct {
		mcr, msrHigh byte
	}{
		{0x10, 0x00},
		{0x11, 0x20}, // DTR -> DSR
		{0x12, 0x10}, // RTS -> CTS
		{0x14, 0x40}, // OUT1 -> RI
		{0x18, 0x80}, // OUT2 -> DCD
		{0x1a, 0x90}, // what Linux's 8250 autoconfig checks
		{0x1f, 0xf0},
	} {
		h := newHarness(t)
		h.wr(regMCR, tc.mcr)
		if got := h.rd(regMSR) & 0xf0; got != tc.msrHigh {
			t.Errorf("MCR %#02x: MSR[7:4] = %#02x, want %#02x", tc.mcr, got, tc.msrHigh)
		}
	}
}

// 8.9: delta bits record changes since the last MSR read; TERI only the
// 1->0 edge of RI.
func TestModemDeltaBits(t *testing.T) {
	h := newHarness(t)
	h.expect(regMSR, "MSR", 0xb0)
	h.wr(regMCR, 0x1b) // loopback, DTR RTS OUT2: CTS DSR DCD stay 1
	h.expect(regMSR, "MSR", 0xb0)
	h.wr(regMCR, 0x1f) // OUT1: RI 0->1, leading edge, no TERI
	h.expect(regMSR, "MSR", 0xf0)
	h.wr(regMCR, 0x1b) // RI 1->0: TERI
	h.expect(regMSR, "MSR", 0xb4)
	h.expect(regMSR, "MSR", 0xb0) // cleared by the read
	h.wr(regMCR, 0x10)            // CTS DSR DCD drop
	h.expect(regMSR, "MSR", 0x0b)
	h.wr(regMCR, 0x00) // back to the external inputs
	h.expect(regMSR, "MSR", 0xbb)
	h.expect(regMSR, "MSR", 0xb0)
}

func TestModemStatusInterrupt(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0x08)
	h.expectCalls()
	h.wr(regMCR, 0x12) // CTS stays, DSR and DCD drop
	h.expectCalls(true)
	h.expect(regIIR, "IIR", 0x00)
	h.expect(regMSR, "MSR", 0x1a)
	h.expectCalls(false)
	h.expect(regIIR, "IIR", 0x01)
}

// 8.8: in loopback the transmitter output is not driven: nothing reaches
// out, and the byte is received instead.
func TestLoopbackNoOutput(t *testing.T) {
	h := newHarness(t)
	h.wr(regMCR, 0x10)
	h.wr(0, 'x')
	if h.out.Len() != 0 {
		t.Errorf("loopback produced output %q", h.out.Bytes())
	}
	h.expect(regLSR, "LSR", 0x61)
	h.expect(0, "RBR", 'x')
	h.wr(regMCR, 0x00)
	h.wr(0, 'y')
	if got := h.out.String(); got != "y" {
		t.Errorf("output = %q, want %q", got, "y")
	}
	h.expect(regLSR, "LSR", 0x60)
}
