package rtc

import (
	"testing"
	"time"
)

// FuzzPorts drives random sequences of port accesses, host clock steps and
// timer callbacks and checks, after every step, that nothing panics and that
// the datasheet's fixed behaviour holds: register D reads 0x80, C's bits 0-3
// read 0 and a second read of C at the same instant reads 0, the index port
// reads 0xFF, UIP is never set while the clock is stopped, NVRAM and alarm
// bytes read back the last value written, the interrupt line follows IRQF
// and changes only when it must, and the timer is armed within a second.
//
// Each op is one byte: bits 7-6 select the kind; writes take their value
// from the next byte.
func FuzzPorts(f *testing.F) {
	f.Add([]byte{0x0B, 0x82, 0x0A, 0x66, 0x09, 0x99, 0x32, 0x19, 0x0B, 0x02, 0x0A, 0x26, 0x80, 0xC5})
	f.Add([]byte{0x0B, 0x04, 0x00, 0x8D, 0x40, 0xC1, 0x04, 0xFF, 0x80, 0xFF})
	f.Add([]byte{0x0B, 0x80, 0x04, 0x92, 0x08, 0x00, 0x07, 0x00, 0x0B, 0x00, 0xC9, 0x44})
	f.Add([]byte{0x0B, 0x72, 0x01, 0xC0, 0x03, 0xC0, 0x05, 0xC0, 0xFF, 0x8C, 0xDF, 0x8C, 0xC1, 0x8C})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &fakeClock{t: time.Date(2026, 11, 30, 7, 50, 59, 0, time.UTC)}
		irq := &fakeIRQ{t: t}
		r := New(c.now, irq)
		r.wake = func(d time.Duration) {
			if d <= 0 || d > time.Second {
				t.Fatalf("timer armed for %v", d)
			}
		}
		var model [128]byte
		stored := func(i byte) bool {
			return !isClockByte(i) && i != regA && i != regB && i != regC && i != regD
		}
		read := func(i byte) byte {
			r.Write(0, []byte{i})
			var b [1]byte
			r.Read(1, b[:])
			return b[0]
		}
		for i := 0; i < len(data); i++ {
			op := data[i]
			switch op >> 6 {
			case 0, 1: // select index op&0x7f with the NMI bit set, write the next byte
				index := op & 0x7f
				r.Write(0, []byte{index | 0x80})
				if i+1 >= len(data) {
					return
				}
				i++
				r.Write(1, data[i:i+1])
				if stored(index) {
					model[index] = data[i]
				}
			case 2: // read index op&0x1f, or op&0x1f|0x20 (bit 5), plus 0x40 for NVRAM above
				index := op & 0x3f
				if op&0x20 != 0 {
					index |= 0x40
				}
				b := read(index)
				switch {
				case index == regD && b != dVRT:
					t.Fatalf("register D = %#02x", b)
				case index == regC && b&0x0f != 0:
					t.Fatalf("register C = %#02x", b)
				case index == regC && read(regC) != 0:
					t.Fatalf("register C not cleared by a read")
				case stored(index) && b != model[index]:
					t.Fatalf("byte %#02x = %#02x, want %#02x", index, b, model[index])
				case index == regA && b&aUIP != 0 && !r.running():
					t.Fatalf("UIP set while stopped (A %#02x)", b)
				}
			case 3: // advance the clock op&0x1f steps of 1 ms or 37 s; odd-width accesses; the timer
				step := time.Millisecond
				if op&0x20 != 0 {
					step = 37 * time.Second
				}
				c.advance(time.Duration(op&0x1f) * step)
				if op&0x10 != 0 {
					r.tick()
				}
				buf := make([]byte, int(op&3)+1)
				r.Read(uint64(op>>2)&1, buf)
				if buf[0] != 0xff && op>>2&1 == 0 {
					t.Fatalf("index port read %#02x", buf[0])
				}
				for j := 2 - int(op>>2&1); j < len(buf); j++ {
					if buf[j] != 0xff {
						t.Fatalf("read beyond the data port: % x", buf)
					}
				}
			}
			r.mu.Lock()
			if irq.level != r.irqf() {
				t.Fatalf("line %v, IRQF %v", irq.level, r.irqf())
			}
			r.mu.Unlock()
		}
	})
}
