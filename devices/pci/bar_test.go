package pci

import (
	"bytes"
	"testing"
)

func newBARDevice(t *testing.T, b *Bus) (*Slot, [3]*recordingHandler) {
	t.Helper()
	var h [3]*recordingHandler
	for i := range h {
		h[i] = &recordingHandler{fill: byte(0xA0 + i)}
	}
	cfg := NewConfig(Header{VendorID: 0x1234, DeviceID: 0x1})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cfg.AddBAR(0, BAR{Size: 4096, Handler: h[0]}))
	must(cfg.AddBAR(2, BAR{Size: 1 << 20, Is64: true, Handler: h[1]}))
	must(cfg.AddBAR(4, BAR{Size: 8192, Is64: true, Prefetchable: true, Handler: h[2]}))
	s, err := b.Add(&testDev{cfg})
	must(err)
	return s, h
}

// BAR sizing as PCI 3.0 §6.2.5.1 describes it: write all-ones, read back
// the size mask with the type bits in the low nibble, restore.
func TestBARSizing(t *testing.T) {
	b, p := newTestBus(t)
	s, _ := newBARDevice(t, b)
	d := uint32(s.Number())
	cases := []struct {
		reg  uint32
		want uint32
	}{
		{0x10, 0xFFFFF000}, // 4 KiB, 32-bit, non-prefetchable
		{0x14, 0x00000000}, // unused
		{0x18, 0xFFF00004}, // 1 MiB, 64-bit (type 10b)
		{0x1C, 0xFFFFFFFF}, // its upper half
		{0x20, 0xFFFFE00C}, // 8 KiB, 64-bit, prefetchable
		{0x24, 0xFFFFFFFF},
	}
	for _, c := range cases {
		orig := p.cfgRead32(d, c.reg)
		p.cfgWrite32(d, c.reg, 0xFFFFFFFF)
		if got := p.cfgRead32(d, c.reg); got != c.want {
			t.Errorf("BAR reg %#x sized = %#x, want %#x", c.reg, got, c.want)
		}
		p.cfgWrite32(d, c.reg, orig)
		if got := p.cfgRead32(d, c.reg); got != orig {
			t.Errorf("BAR reg %#x restored = %#x, want %#x", c.reg, got, orig)
		}
	}
}

func TestBARAllocation(t *testing.T) {
	b, p := newTestBus(t)
	s1, _ := newBARDevice(t, b)
	s2, _ := newBARDevice(t, b)
	type r struct{ a, n uint64 }
	var all []r
	for _, s := range []*Slot{s1, s2} {
		d := uint32(s.Number())
		if cmd := p.cfgRead16(d, 0x04); cmd&CommandMemory == 0 {
			t.Errorf("slot %d: memory decoding off after Add", d)
		}
		for _, bar := range []struct {
			idx  int
			size uint64
		}{{0, 4096}, {2, 1 << 20}, {4, 8192}} {
			a := s.BARAddress(bar.idx)
			lo := uint64(p.cfgRead32(d, uint32(0x10+4*bar.idx)) &^ 0xF)
			hi := uint64(0)
			if bar.idx != 0 {
				hi = uint64(p.cfgRead32(d, uint32(0x14+4*bar.idx)))
			}
			if got := hi<<32 | lo; got != a {
				t.Errorf("slot %d BAR %d: register %#x, BARAddress %#x", d, bar.idx, got, a)
			}
			if a%bar.size != 0 {
				t.Errorf("slot %d BAR %d at %#x not aligned to %#x", d, bar.idx, a, bar.size)
			}
			if a < testWindowBase || a+bar.size > testWindowBase+testWindowSize {
				t.Errorf("slot %d BAR %d at %#x outside the window", d, bar.idx, a)
			}
			all = append(all, r{a, bar.size})
		}
	}
	for i := range all {
		for j := range all {
			if i != j && all[i].a < all[j].a+all[j].n && all[j].a < all[i].a+all[i].n {
				t.Errorf("BARs overlap: %#x+%#x and %#x+%#x", all[i].a, all[i].n, all[j].a, all[j].n)
			}
		}
	}
}

func TestBARWindowFull(t *testing.T) {
	b := NewBus(testWindowBase, 0x10000)
	cfg := NewConfig(Header{VendorID: 1})
	if err := cfg.AddBAR(0, BAR{Size: 1 << 20, Handler: &recordingHandler{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(&testDev{cfg}); err == nil {
		t.Fatal("Add succeeded with a BAR larger than the window")
	}
}

func TestMMIORoutingFollowsBARs(t *testing.T) {
	b, p := newTestBus(t)
	var moves [][3]uint64
	var s *Slot
	var seen uint64
	b.OnBARMove = func(o, n, sz uint64) {
		moves = append(moves, [3]uint64{o, n, sz})
		seen = s.BARAddress(0) // the callback may look at the device
	}
	s, h := newBARDevice(t, b)
	d := uint32(s.Number())
	regions := b.MMIORegions()
	if len(regions) != 1 || regions[0].Addr != testWindowBase || regions[0].Size != testWindowSize {
		t.Fatalf("MMIORegions = %+v", regions)
	}
	w := regions[0].Dev
	a0 := s.BARAddress(0)

	buf := make([]byte, 4)
	w.Read(a0-testWindowBase+0x10, buf)
	if !bytes.Equal(buf, []byte{0xA0, 0xA0, 0xA0, 0xA0}) || h[0].lastOff != 0x10 {
		t.Errorf("BAR0 read = %x at offset %#x", buf, h[0].lastOff)
	}
	w.Write(s.BARAddress(2)-testWindowBase+0x123, []byte{1, 2})
	if h[1].lastOff != 0x123 || !bytes.Equal(h[1].lastWrite, []byte{1, 2}) {
		t.Errorf("BAR2 write: offset %#x data %x", h[1].lastOff, h[1].lastWrite)
	}
	// A hole reads all-ones.
	w.Read(testWindowSize-8, buf)
	if !bytes.Equal(buf, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
		t.Errorf("hole read = %x", buf)
	}
	// An access straddling the end of a BAR is not claimed.
	w.Read(a0-testWindowBase+4094, buf)
	if !bytes.Equal(buf, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
		t.Errorf("straddling read = %x", buf)
	}

	// Memory Space Enable off: nothing decodes.
	p.cfgWrite16(d, 0x04, 0)
	w.Read(a0-testWindowBase, buf)
	if !bytes.Equal(buf, []byte{0xFF, 0xFF, 0xFF, 0xFF}) {
		t.Errorf("read with decoding off = %x", buf)
	}
	// Sizing and restore are not moves.
	orig := p.cfgRead32(d, 0x10)
	p.cfgWrite32(d, 0x10, 0xFFFFFFFF)
	p.cfgWrite32(d, 0x10, orig)
	if len(moves) != 0 {
		t.Fatalf("sizing reported moves: %v", moves)
	}
	// A real move inside the window is reported and followed.
	newA := uint64(testWindowBase + 0x0800_0000)
	p.cfgWrite32(d, 0x10, uint32(newA))
	p.cfgWrite16(d, 0x04, CommandMemory)
	if len(moves) != 1 || moves[0] != [3]uint64{a0, newA, 4096} || seen != newA {
		t.Fatalf("moves = %x, BAR address seen in the callback %#x", moves, seen)
	}
	w.Read(newA-testWindowBase+8, buf)
	if buf[0] != 0xA0 || h[0].lastOff != 8 {
		t.Errorf("read at moved BAR = %x offset %#x", buf, h[0].lastOff)
	}
	w.Read(a0-testWindowBase, buf)
	if buf[0] != 0xFF {
		t.Errorf("old BAR address still decodes: %x", buf)
	}
}

func TestAddBARRejectsBadSizes(t *testing.T) {
	cfg := NewConfig(Header{})
	h := &recordingHandler{}
	for _, bar := range []BAR{{Size: 8, Handler: h}, {Size: 3000, Handler: h}, {Size: 1 << 32, Handler: h}, {Size: 4096}} {
		if err := cfg.AddBAR(0, bar); err == nil {
			t.Errorf("AddBAR(%+v) succeeded", bar)
		}
	}
	if err := cfg.AddBAR(5, BAR{Size: 4096, Is64: true, Handler: h}); err == nil {
		t.Error("64-bit BAR in slot 5 accepted")
	}
	if err := cfg.AddBAR(0, BAR{Size: 4096, Is64: true, Handler: h}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.AddBAR(1, BAR{Size: 4096, Handler: h}); err == nil {
		t.Error("BAR 1 accepted over the upper half of BAR 0")
	}
}
