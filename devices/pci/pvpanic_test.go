package pci

import "testing"

func TestPvPanic(t *testing.T) {
	b, p := newTestBus(t)
	var events []uint8
	s, err := b.Add(NewPvPanic(func(ev uint8) { events = append(events, ev) }))
	if err != nil {
		t.Fatal(err)
	}
	d := uint32(s.Number())
	// QEMU hw/misc/pvpanic-pci.c: 1b36:0011, revision 1, class 0x0880.
	if got := p.cfgRead32(d, 0); got != 0x0011_1b36 {
		t.Errorf("IDs = %#x, want 0x00111b36", got)
	}
	if got := p.cfgRead32(d, 8); got != 0x0880_0001 {
		t.Errorf("class/revision = %#x, want 0x08800001", got)
	}
	w := b.MMIORegions()[0].Dev
	off := s.BARAddress(0) - testWindowBase
	if off+testWindowBase == 0 {
		t.Fatal("BAR 0 not assigned")
	}
	r := []byte{0}
	w.Read(off, r)
	if r[0] != 0x3 { // PANICKED | CRASH_LOADED
		t.Errorf("supported events = %#x, want 0x3", r[0])
	}
	w.Write(off, []byte{0x1})
	w.Write(off, []byte{0x4}) // unsupported: ignored
	w.Write(off, []byte{0x82})
	if len(events) != 2 || events[0] != 1 || events[1] != 2 {
		t.Errorf("events = %v, want [1 2]", events)
	}
}
