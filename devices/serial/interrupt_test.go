package serial

import "testing"

// PC16550D Table IV: with every source pending, IIR reports them in the
// order line status (0x06), received data (0x04), THR empty (0x02), modem
// status (0x00), and each is cleared by its own action.
func TestIIRPriorityOrder(t *testing.T) {
	h := newHarness(t)
	h.wr(regMCR, 0x10) // loopback: inputs go 1->0, setting DCTS, DDSR, DDCD
	h.wr(0, 'a')
	h.wr(0, 'b') // overrun
	h.wr(regIER, 0x0f)
	h.expectCalls(true)

	h.expect(regIIR, "IIR", 0x06)
	h.expect(regIIR, "IIR (unchanged by reading)", 0x06)
	h.expect(regLSR, "LSR", 0x63) // clears the line status source
	h.expect(regIIR, "IIR", 0x04)
	h.expect(0, "RBR", 'b') // clears received data
	h.expect(regIIR, "IIR", 0x02)
	// Reading IIR cleared THR empty since it was the reported source.
	h.expect(regIIR, "IIR", 0x00)
	h.expect(regMSR, "MSR", 0x0b) // clears modem status
	h.expect(regIIR, "IIR", 0x01)
	h.expectCalls(false)
}

func TestIIRPriorityWithFIFOs(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0x41) // FIFOs on, trigger level 4
	h.wr(regIER, 0x0f)
	h.expect(regIIR, "IIR", 0xc2)
	h.input("ab")
	h.expect(regIIR, "IIR", 0xcc) // timeout outranks THR empty...
	h.input("cd")
	h.expect(regIIR, "IIR", 0xc4) // ...and so does data available
	for i := 0; i < 4; i++ {
		h.rd(0)
	}
	h.expect(regIIR, "IIR", 0xc1) // THRE was cleared by the first read
}

// THR-empty interrupt (Table IV; QEMU's thr_ipending): enabling ETBEI with
// THR empty raises it; reading IIR while it is the source clears it;
// writing THR clears it and, the transmit being instant, raises it again.
func TestTHREInterruptSequence(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0x02)
	h.expectCalls(true)
	h.expect(regIIR, "IIR", 0x02)
	h.expectCalls(false)
	h.expect(regIIR, "IIR", 0x01) // cleared by the previous read

	h.wr(0, 'x')
	h.expectCalls(true)
	// THR write while the line is high: it drops and rises again, so an
	// edge-triggered PIC sees a new interrupt.
	h.wr(0, 'y')
	h.expectCalls(false, true)
	h.expect(regIIR, "IIR", 0x02)
	h.expectCalls(false)

	// Re-enabling ETBEI re-raises it even though IIR cleared it.
	h.wr(regIER, 0x00)
	h.expectCalls()
	h.wr(regIER, 0x02)
	h.expectCalls(true)
	// Rewriting IER with ETBEI unchanged does not re-arm.
	h.expect(regIIR, "IIR", 0x02)
	h.expectCalls(false)
	h.wr(regIER, 0x02)
	h.expect(regIIR, "IIR", 0x01)
	h.wr(regIER, 0x02)
	h.expect(regIIR, "IIR", 0x01)
	// Disabling ETBEI drops a pending THRE.
	h.wr(0, 'z')
	h.wr(regIER, 0x00)
	h.expect(regIIR, "IIR", 0x01)
	h.expectCalls(true, false)
	if got := h.out.String(); got != "xyz" {
		t.Errorf("output = %q, want %q", got, "xyz")
	}
}

// FCR bit 2 (clear transmit FIFO) re-arms THRE, as in QEMU.
func TestClearTXReArmsTHRE(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0x02)
	h.expect(regIIR, "IIR", 0x02)
	h.expect(regIIR, "IIR", 0x01)
	h.wr(regIIR, 0x05)
	h.expect(regIIR, "IIR", 0xc2)
}

func TestRXInterruptLevel(t *testing.T) {
	h := newHarness(t)
	h.input("a")
	h.expectCalls() // ERBFI off
	h.wr(regIER, 0x01)
	h.expectCalls(true)
	h.input("b") // into the backlog; level unchanged, no call
	h.expectCalls()
	h.rd(0)
	h.expectCalls() // 'b' moved in, still pending
	h.rd(0)
	h.expectCalls(false)
	h.wr(regIER, 0x00)
	h.input("c")
	h.expectCalls()
	h.wr(regIER, 0x01)
	h.expectCalls(true)
	h.wr(regIER, 0x00)
	h.expectCalls(false)
}

// The line is not gated on MCR OUT2 (see the package doc).
func TestIRQNotGatedOnOUT2(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0x02)
	h.expectCalls(true)
	h.wr(regMCR, 0x08)
	h.wr(regMCR, 0x00)
	h.expectCalls()
}

func TestLineStatusInterrupt(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0x04)
	h.wr(regMCR, 0x10)
	h.wr(0, '1')
	h.expectCalls()
	h.wr(0, '2')
	h.expectCalls(true)
	h.expect(regIIR, "IIR", 0x06)
	h.expect(regLSR, "LSR", 0x63)
	h.expectCalls(false)
	h.expect(regIIR, "IIR", 0x01)
}
