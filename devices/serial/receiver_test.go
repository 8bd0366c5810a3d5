package serial

import "testing"

// 8.5/8.6: IIR bits 6-7 read 1 while FCR bit 0 is set.
func TestFIFOEnableShowsInIIR(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0x01)
	h.expect(regIIR, "IIR", 0xc1)
	h.wr(regIIR, 0x00)
	h.expect(regIIR, "IIR", 0x01)
}

// 8.5: FCR bit 0 must be 1 for the other bits to be written.
func TestFCRIgnoredWithoutEnableBit(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0xc0) // trigger 14, but enable bit clear: ignored
	h.expect(regIIR, "IIR", 0x01)
	h.wr(regIIR, 0x01) // FIFOs on, trigger level 1
	h.wr(regIER, 0x01)
	h.input("a")
	h.expect(regIIR, "IIR", 0xc4) // 1 byte reaches trigger level 1
}

// 16450 mode: one receiver buffer register; DR follows it (8.4 bit 0).
func TestReceiveNonFIFO(t *testing.T) {
	h := newHarness(t)
	h.input("ab")
	h.expect(regLSR, "LSR", 0x61)
	h.expect(0, "RBR", 'a')
	h.expect(regLSR, "LSR", 0x61) // 'b' moved in from the backlog
	h.expect(0, "RBR", 'b')
	h.expect(regLSR, "LSR", 0x60)
	h.expect(0, "RBR (empty)", 'b') // the holding register keeps its byte
	h.expect(regLSR, "LSR", 0x60)
}

func TestReceiveFIFO(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0x01)
	h.input("xyz")
	for _, c := range []byte("xyz") {
		h.expect(regLSR, "LSR", 0x61)
		h.expect(0, "RBR", c)
	}
	h.expect(regLSR, "LSR", 0x60)
}

// 8.4 bit 1: in 16450 mode a character arriving while DR is set overwrites
// RBR and sets OE; reading LSR clears OE.
func TestOverrunNonFIFO(t *testing.T) {
	h := newHarness(t)
	h.wr(regMCR, 0x10) // loopback: THR feeds the receiver directly
	h.wr(0, 'a')
	h.expect(regLSR, "LSR", 0x61)
	h.wr(0, 'b')
	h.expect(regLSR, "LSR", 0x63) // DR | OE | THRE | TEMT
	h.expect(regLSR, "LSR", 0x61) // OE cleared by the read
	h.expect(0, "RBR", 'b')       // the previous character was destroyed
	h.expect(regLSR, "LSR", 0x60)
}

// 8.4 bit 1: in FIFO mode OE is set when a character arrives at a full
// FIFO; that character is lost and the FIFO contents are kept.
func TestOverrunFIFO(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0x01)
	h.wr(regMCR, 0x10)
	for i := 0; i < 16; i++ {
		h.wr(0, byte('A'+i))
	}
	h.expect(regLSR, "LSR", 0x61) // full, no overrun yet
	h.wr(0, '!')
	h.expect(regLSR, "LSR", 0x63)
	h.expect(regLSR, "LSR", 0x61)
	for i := 0; i < 16; i++ {
		h.expect(0, "RBR", byte('A'+i))
	}
	h.expect(regLSR, "LSR", 0x60)
}

// 8.5 bit 1 clears the receiver FIFO; bit 0 must accompany it.
func TestFCRClearReceiver(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0x01)
	h.input("hello")
	h.wr(regIIR, 0x03)
	h.expect(regLSR, "LSR", 0x60)
	h.expect(regIIR, "IIR", 0xc1) // FIFOs still on
	h.input("z")
	h.expect(0, "RBR", 'z')
}

// 8.5: changing FCR bit 0 clears the FIFOs.
func TestFIFOModeChangeClears(t *testing.T) {
	h := newHarness(t)
	h.wr(regIIR, 0x01)
	h.input("abc")
	h.wr(regIIR, 0x00)
	h.expect(regLSR, "LSR", 0x60)
	h.input("d")
	h.wr(regIIR, 0x01)
	h.expect(regLSR, "LSR", 0x60)
}

// 8.5 bits 6-7 select trigger levels 1, 4, 8, 14. Below the level the
// character timeout (IIR 0x0c) is reported, at or above it data available
// (IIR 0x04); with FIFOs on IIR bits 6-7 are set too.
func TestTriggerLevels(t *testing.T) {
	for _, tc := range []struct {
		fcr   byte
		level int
	}{{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14}} {
		h := newHarness(t)
		h.wr(regIIR, tc.fcr)
		h.wr(regIER, 0x01)
		for i := 1; i < tc.level; i++ {
			h.input("x")
			h.expect(regIIR, "IIR below trigger", 0xcc)
		}
		h.input("x")
		h.expect(regIIR, "IIR at trigger", 0xc4)
		h.input("x")
		h.expect(regIIR, "IIR above trigger", 0xc4)
		h.rd(0)
		h.rd(0)
		if tc.level > 1 {
			h.expect(regIIR, "IIR after draining below trigger", 0xcc)
		}
		for h.rd(regLSR)&lsrDR != 0 {
			h.rd(0)
		}
		h.expect(regIIR, "IIR empty", 0xc1)
		if h.irq.get() {
			t.Errorf("fcr %#02x: IRQ still high with empty FIFO", tc.fcr)
		}
	}
}

// Without FIFOs there is no character timeout: IIR 0x04 (8.6, Table IV).
func TestNoTimeoutWithoutFIFO(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, 0x01)
	h.input("x")
	h.expect(regIIR, "IIR", 0x04)
}
