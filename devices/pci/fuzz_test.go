package pci

import (
	"encoding/binary"
	"testing"

	"github.com/govmm/govmm/devices/bus"
)

// fuzzBus is bus 0 as govmm builds it: the host bridge in slot 0, pvpanic,
// and a virtio-like function with a 64-bit BAR 0, a 32-bit BAR 2 and an
// MSI-X capability whose table and PBA live in BAR 2.
type fuzzBus struct {
	b      *Bus
	p      pio
	window bus.Device
	ids    map[uint32]uint32 // slot -> vendor/device dword, which must never change
}

func newFuzzBus(t *testing.T) *fuzzBus {
	b := NewBus(testWindowBase, testWindowSize)
	f := &fuzzBus{b: b, p: pio{b.ConfigIO()}, ids: map[uint32]uint32{}}
	if _, err := b.Add(NewHostBridge()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(NewPvPanic(func(uint8) {})); err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig(Header{VendorID: 0x1af4, DeviceID: 0x1044, Class: 0xff0000})
	if err := cfg.AddBAR(0, BAR{Size: 0x4000, Is64: true, Name: "regs", Handler: &recordingHandler{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMSIX(cfg, 2, 4, &fakeMSI{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(&testDev{cfg}); err != nil {
		t.Fatal(err)
	}
	f.window = b.MMIORegions()[0].Dev
	for d := uint32(0); d < 32; d++ {
		f.ids[d] = f.p.cfgRead32(d, 0)
	}
	return f
}

// FuzzPCIConfig drives configuration mechanism #1 (ports 0xCF8-0xCFF, PCI
// 3.0 §3.2.2.3.2) and the MMIO window with what a hostile guest can do:
// accesses of every size at every port offset, including ones that cross
// the CONFIG_DATA dword, BAR sizing and moves (over each other and out of
// the window), command register toggles and MSI-X table writes. Each
// operation is 8 bytes: kind, port or window offset, size, and a 32-bit
// value. Nothing may panic, and after every operation the identity
// registers of every slot read as before (vendor and device IDs are
// read-only; absent slots read all-ones) and CONFIG_ADDRESS reads back
// with bits 1:0 clear.
func FuzzPCIConfig(f *testing.F) {
	op := func(kind, off, size byte, v uint32) []byte {
		b := []byte{kind, off, size, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(b[4:], v)
		return b
	}
	cat := func(ops ...[]byte) []byte {
		var b []byte
		for _, o := range ops {
			b = append(b, o...)
		}
		return b
	}
	addr := func(dev, reg uint32) uint32 { return cfgAddr(0, dev, 0, reg) }
	// Size BAR 0 of slot 2, then move it over slot 1's BAR.
	f.Add(cat(op(1, 0, 4, addr(2, 0x10)), op(1, 4, 4, 0xffffffff), op(0, 4, 4, 0),
		op(1, 4, 4, testWindowBase)))
	// Enable memory decoding, then an MSI-X table write and a masked vector.
	f.Add(cat(op(1, 0, 4, addr(2, 0x04)), op(1, 4, 2, 0x6), op(3, 0x40, 4, 0xfee00000)))
	// Byte and word writes to CONFIG_ADDRESS, a read that crosses the dword.
	f.Add(cat(op(1, 1, 1, 0x80), op(1, 2, 2, 0xffff), op(0, 6, 4, 0), op(0, 7, 2, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		fb := newFuzzBus(t)
		for len(data) >= 8 {
			kind, off, size := data[0], uint64(data[1]), []int{1, 2, 4, 8}[data[2]&3]
			v := binary.LittleEndian.Uint32(data[4:])
			data = data[8:]
			var val [8]byte
			binary.LittleEndian.PutUint32(val[:], v)
			buf := val[:size]
			switch kind & 3 {
			case 0:
				fb.b.ConfigIO().Read(off%ConfigIOSize, buf)
			case 1:
				fb.b.ConfigIO().Write(off%ConfigIOSize, buf)
			case 2:
				fb.window.Read(uint64(v)%testWindowSize, buf)
			case 3:
				fb.window.Write(uint64(off)<<8%testWindowSize, buf)
			}
			a := fb.p.in32(0xCF8)
			if a&configReadOnly != 0 {
				t.Fatalf("CONFIG_ADDRESS reads %#x: bits 1:0 must be zero", a)
			}
			for d := uint32(0); d < 32; d++ {
				if got := fb.p.cfgRead32(d, 0); got != fb.ids[d] {
					t.Fatalf("slot %d identity changed: %#x, was %#x", d, got, fb.ids[d])
				}
			}
			fb.p.out32(0xCF8, a) // the guest's latch, as it was
		}
	})
}
