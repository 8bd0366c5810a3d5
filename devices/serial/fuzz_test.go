package serial

import (
	"bytes"
	"testing"
)

// FuzzUART drives random register reads, writes and host input and checks
// invariants after every step: no panic, the IRQ line equals "IIR bit 0
// clear", SetLevel is only called on changes, LSR THRE/TEMT stay set, DR
// matches the receiver, buffers stay bounded, and output appears only for THR
// writes outside loopback.
//
// Each op is one byte: bits 7-6 select the kind, the rest an offset or a
// length; writes take their value from the next byte.
func FuzzUART(f *testing.F) {
	f.Add([]byte{0x42, 0x0f, 0x41, 0x01, 0x9f, 'h', 'i', 0x02, 0x05, 0x00})
	f.Add([]byte{0x44, 0x10, 0x40, 'a', 0x40, 'b', 0x02, 0x05, 0x06, 0x42, 0xc1})
	f.Add([]byte{0x43, 0x80, 0x40, 0x01, 0x41, 0x00, 0x43, 0x03, 0x41, 0x02, 0x02, 0x40, 'x', 0x02})
	f.Add([]byte{0xc8, 0xff, 0x42, 0x07, 0x41, 0x0b, 0x44, 0x1f, 0x44, 0x00, 0x06})
	f.Fuzz(func(t *testing.T, data []byte) {
		irq := &fakeIRQ{}
		out := &bytes.Buffer{}
		u := New(out, irq)
		wantOut := 0
		for i := 0; i < len(data); i++ {
			op := data[i]
			switch op >> 6 {
			case 0: // read one register
				off := uint64(op & 7)
				levelBefore := irq.get()
				var b [1]byte
				u.Read(off, b[:])
				if off == regIIR {
					if (b[0]&iirNoInt == 0) != levelBefore {
						t.Fatalf("IIR %#02x read while IRQ level %v", b[0], levelBefore)
					}
					if b[0]&0x30 != 0 {
						t.Fatalf("IIR bits 4-5 set: %#02x", b[0])
					}
				}
			case 1: // write one register
				if i+1 >= len(data) {
					return
				}
				off := uint64(op & 7)
				i++
				u.mu.Lock()
				transmits := off == regRBR && !u.dlab() && !u.loopback()
				u.mu.Unlock()
				if transmits {
					wantOut++
				}
				u.Write(off, data[i:i+1])
			case 2: // host input of 1..64 bytes taken from the stream
				n := min(int(op&0x3f)+1, len(data)-i-1)
				got := u.Input(data[i+1 : i+1+n])
				if got < 0 || got > n {
					t.Fatalf("Input(%d bytes) = %d", n, got)
				}
				i += n
			case 3: // odd-sized or out-of-range access
				buf := make([]byte, int(op&3)+1)
				off := uint64(op>>2) & 0x0f
				u.Read(off, buf)
				for _, b := range buf[1:] {
					if b != 0xff {
						t.Fatalf("extra read bytes % x", buf)
					}
				}
				if off > 7 && buf[0] != 0xff {
					t.Fatalf("read at %d = %#02x", off, buf[0])
				}
			}
			checkInvariants(t, u, irq)
		}
		if out.Len() != wantOut {
			t.Fatalf("output %d bytes, want %d", out.Len(), wantOut)
		}
	})
}

func checkInvariants(t *testing.T, u *UART, irq *fakeIRQ) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if irq.redundant != 0 {
		t.Fatalf("SetLevel called without a level change")
	}
	pending := u.pendingID()&iirNoInt == 0
	if irq.get() != pending || u.level != pending {
		t.Fatalf("IRQ level %v (cached %v) but IIR id %#02x", irq.get(), u.level, u.pendingID())
	}
	lsr := u.lsr()
	if lsr&(lsrTHRE|lsrTEMT) != lsrTHRE|lsrTEMT {
		t.Fatalf("LSR %#02x lacks THRE/TEMT", lsr)
	}
	if (lsr&lsrDR != 0) != (u.rx.len() > 0) {
		t.Fatalf("LSR %#02x with %d bytes in the receiver", lsr, u.rx.len())
	}
	if u.rx.len() > u.rxCap() || u.backlog.len() > InputBufferSize {
		t.Fatalf("receiver %d/%d, backlog %d", u.rx.len(), u.rxCap(), u.backlog.len())
	}
	if !u.loopback() && u.backlog.len() > 0 && u.rx.len() < u.rxCap() {
		t.Fatalf("backlog %d bytes waiting while the receiver has room", u.backlog.len())
	}
	if u.thrPending && u.ier&ierETBEI == 0 {
		t.Fatalf("THRE pending with ETBEI clear")
	}
	if u.ier&^ierMask != 0 || u.mcr&^mcrMask != 0 {
		t.Fatalf("reserved bits set: IER %#02x MCR %#02x", u.ier, u.mcr)
	}
}
