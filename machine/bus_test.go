package machine

import (
	"bytes"
	"testing"
)

// recorder is a bus device that remembers its last access.
type recorder struct {
	lastOff  uint64
	lastData []byte
	writes   int
	fill     byte
}

func (r *recorder) Read(off uint64, data []byte) {
	r.lastOff = off
	for i := range data {
		data[i] = r.fill
	}
}

func (r *recorder) Write(off uint64, data []byte) {
	r.lastOff = off
	r.lastData = append([]byte(nil), data...)
	r.writes++
}

func TestBusDispatchesWithOffset(t *testing.T) {
	b := NewBus("pio")
	uart, pci := &recorder{fill: 0x60}, &recorder{fill: 0x86}
	if err := b.Register("uart", 0x3f8, 8, uart); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("pci", 0xcf8, 8, pci); err != nil {
		t.Fatal(err)
	}
	b.Write(0x3f8, []byte{'A'})
	if uart.lastOff != 0 || !bytes.Equal(uart.lastData, []byte{'A'}) {
		t.Fatalf("uart got off %d data %q", uart.lastOff, uart.lastData)
	}
	d := make([]byte, 1)
	if b.Read(0x3fd, d) == nil || uart.lastOff != 5 || d[0] != 0x60 {
		t.Fatalf("read 0x3fd: off %d data %#x", uart.lastOff, d[0])
	}
	d4 := make([]byte, 4)
	b.Read(0xcfc, d4)
	if pci.lastOff != 4 || d4[3] != 0x86 {
		t.Fatalf("pci read off %d", pci.lastOff)
	}
}

func TestBusUnknownAccess(t *testing.T) {
	b := NewBus("mmio")
	if err := b.Register("dev", 0x1000, 0x10, &recorder{}); err != nil {
		t.Fatal(err)
	}
	d := []byte{1, 2, 3, 4}
	if b.Read(0x2000, d) != nil || !bytes.Equal(d, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("unknown read gave %x", d)
	}
	// An access that straddles the end of a range is not the device's.
	if b.Read(0x100e, d) != nil {
		t.Fatal("straddling read dispatched")
	}
	if b.Write(0x0fff, []byte{1, 2}) != nil {
		t.Fatal("straddling write dispatched")
	}
	if b.unknownReads.Load() != 2 || b.unknownWrites.Load() != 1 {
		t.Fatalf("unknown counts %d/%d", b.unknownReads.Load(), b.unknownWrites.Load())
	}
}

func TestBusRejectsOverlaps(t *testing.T) {
	b := NewBus("pio")
	if err := b.Register("a", 0x10, 0x10, &recorder{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ base, size uint64 }{
		{0x10, 1}, {0x1f, 1}, {0x8, 0x9}, {0x0, 0x100}, {0x18, 0x10},
	} {
		if err := b.Register("b", c.base, c.size, &recorder{}); err == nil {
			t.Errorf("[%#x,+%#x) overlaps but was accepted", c.base, c.size)
		}
	}
	if err := b.Register("zero", 0x100, 0, &recorder{}); err == nil {
		t.Error("empty range accepted")
	}
	if err := b.Register("wrap", ^uint64(0), 2, &recorder{}); err == nil {
		t.Error("wrapping range accepted")
	}
	// Adjacent ranges are fine, on either side.
	if err := b.Register("below", 0x8, 0x8, &recorder{}); err != nil {
		t.Error(err)
	}
	if err := b.Register("above", 0x20, 0x8, &recorder{}); err != nil {
		t.Error(err)
	}
	for i := 1; i < len(b.ranges); i++ {
		if b.ranges[i-1].base >= b.ranges[i].base {
			t.Fatal("ranges not sorted")
		}
	}
}

func TestBusDispatchDoesNotAllocate(t *testing.T) {
	b := NewBus("pio")
	for i := uint64(0); i < 16; i++ {
		if err := b.Register("dev", 0x100+i*8, 8, &recorder{}); err != nil {
			t.Fatal(err)
		}
	}
	d := make([]byte, 1)
	if n := testing.AllocsPerRun(1000, func() { b.Read(0x145, d) }); n != 0 {
		t.Fatalf("%v allocations per read", n)
	}
}
