package serial

import (
	"slices"
	"testing"
)

// TestPolledTransmitMode: PolledTransmit holds exactly while DLAB is 0,
// IER.ETBEI is 0 and loopback is off, and the hook hears every change, once,
// with the new value, and nothing else.
func TestPolledTransmitMode(t *testing.T) {
	h := newHarness(t)
	var calls []bool
	h.u.OnPolledTransmitChange(func(polled bool) {
		// Called without the UART's lock held: calling back works.
		if got := h.u.PolledTransmit(); got != polled {
			t.Errorf("hook told %v, PolledTransmit says %v", polled, got)
		}
		calls = append(calls, polled)
	})
	if !h.u.PolledTransmit() {
		t.Fatal("a reset UART is not in polled transmit")
	}
	steps := []struct {
		name string
		off  uint64
		v    byte
		want bool
	}{
		{"THR write", regRBR, 'x', true},
		{"IER = ERBFI (receive interrupts only)", regIER, ierERBFI, true},
		{"IER = ERBFI|ETBEI", regIER, ierERBFI | ierETBEI, false},
		{"THR write with ETBEI on", regRBR, 'y', false},
		{"IER = ETBEI|ELSI (still ETBEI)", regIER, ierETBEI | ierELSI, false},
		{"IER = 0", regIER, 0, true},
		{"IER = 0 again", regIER, 0, true},
		{"LCR = DLAB|8N1", regLCR, lcrDLAB | 3, false},
		{"DLL", regRBR, 1, false},
		{"DLM (offset 1 with DLAB: not IER)", regIER, ierETBEI, false},
		{"LCR = 8N1", regLCR, 3, true},
		{"MCR = LOOP", regMCR, mcrLoop, false},
		{"THR write in loopback", regRBR, 'z', false},
		{"MCR = DTR|RTS|OUT2", regMCR, mcrDTR | mcrRTS | mcrOUT2, true},
		{"SCR", regSCR, 0x55, true},
		{"FCR", regIIR, fcrEnable, true},
	}
	var want []bool
	prev := true
	for _, s := range steps {
		h.wr(s.off, s.v)
		if got := h.u.PolledTransmit(); got != s.want {
			t.Errorf("after %s: PolledTransmit %v, want %v", s.name, got, s.want)
		}
		if s.want != prev {
			want = append(want, s.want)
			prev = s.want
		}
	}
	if !slices.Equal(calls, want) {
		t.Errorf("hook calls %v, want %v", calls, want)
	}
	// The divisor and DLM writes went to the divisor, not IER.
	if h.u.divisor != 0x0201 {
		t.Errorf("divisor %#x, want 0x0201", h.u.divisor)
	}
	if got := h.out.String(); got != "xy" {
		t.Errorf("transmitted %q, want \"xy\" (z went to the receiver)", got)
	}
	h.irq.takeCalls()
}

// TestPolledTHRWriteIsInvisible: in polled transmit, a THR write changes no
// register the guest can read and not the interrupt line, so applying it
// late cannot be observed.
func TestPolledTHRWriteIsInvisible(t *testing.T) {
	h := newHarness(t)
	h.wr(regIER, ierERBFI|ierELSI|ierEDSSI)
	h.wr(regIIR, fcrEnable)
	h.wr(regMCR, mcrDTR|mcrRTS|mcrOUT2)
	h.irq.takeCalls()
	if !h.u.PolledTransmit() {
		t.Fatal("not in polled transmit")
	}
	// Reading MSR or IIR would change state; compare everything else.
	snap := func() [6]byte {
		return [6]byte{h.u.ier, h.u.lcr, h.u.mcr, h.u.scr, h.u.lsr(), h.u.pendingID()}
	}
	before := snap()
	level := h.u.level
	h.wr(regRBR, 'a')
	if after := snap(); after != before || h.u.level != level {
		t.Fatalf("registers %x -> %x, line %v -> %v", before, after, level, h.u.level)
	}
	h.expectCalls()
}
