package pci

import (
	"encoding/binary"
	"testing"

	"github.com/govmm/govmm/devices/bus"
)

type msixHarness struct {
	t    *testing.T
	p    pio
	d    uint32
	cap  uint32
	bar  bus.Device
	base uint64
	msi  *fakeMSI
	m    *MSIX
}

func newMSIXHarness(t *testing.T, n int) *msixHarness {
	t.Helper()
	b, p := newTestBus(t)
	msi := &fakeMSI{}
	cfg := NewConfig(Header{VendorID: 0x1af4, DeviceID: 0x1042})
	m, err := NewMSIX(cfg, 1, n, msi)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Add(&testDev{cfg})
	if err != nil {
		t.Fatal(err)
	}
	h := &msixHarness{t: t, p: p, d: uint32(s.Number()), msi: msi, m: m, bar: b.MMIORegions()[0].Dev}
	h.base = s.BARAddress(1) - testWindowBase
	// Walk the capability list to the MSI-X capability.
	if st := p.cfgRead16(h.d, 0x06); st&StatusCapList == 0 {
		t.Fatal("status capability-list bit clear")
	}
	for ptr := p.cfgRead32(h.d, 0x34) & 0xFF; ptr != 0; {
		v := p.cfgRead32(h.d, ptr)
		if v&0xFF == 0x11 {
			h.cap = ptr
			break
		}
		ptr = (v >> 8) & 0xFF
	}
	if h.cap == 0 {
		t.Fatal("no MSI-X capability in the list")
	}
	return h
}

func (h *msixHarness) tableWrite32(off uint64, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	h.bar.Write(h.base+off, b[:])
}

func (h *msixHarness) barRead32(off uint64) uint32 {
	var b [4]byte
	h.bar.Read(h.base+off, b[:])
	return binary.LittleEndian.Uint32(b[:])
}

func (h *msixHarness) setControl(v uint16) { h.p.cfgWrite16(h.d, h.cap+2, v) }

func (h *msixHarness) program(v int, addr uint64, data uint32) {
	e := uint64(16 * v)
	h.tableWrite32(e+0, uint32(addr))
	h.tableWrite32(e+4, uint32(addr>>32))
	h.tableWrite32(e+8, data)
}

func (h *msixHarness) expect(want ...msiMsg) {
	h.t.Helper()
	got := h.msi.take()
	if len(got) != len(want) {
		h.t.Fatalf("messages = %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			h.t.Fatalf("messages = %+v, want %+v", got, want)
		}
	}
}

func TestMSIXCapabilityLayout(t *testing.T) {
	h := newMSIXHarness(t, 5)
	// Message control: table size N-1 in bits 10:0, enable and mask clear.
	if got := h.p.cfgRead16(h.d, h.cap+2); got != 4 {
		t.Errorf("message control = %#x, want 4", got)
	}
	// Table at offset 0 of BAR 1; PBA after the 5*16-byte table, qword aligned.
	if got := h.p.cfgRead32(h.d, h.cap+4); got != 0x00000001 {
		t.Errorf("table offset/BIR = %#x, want 0x1", got)
	}
	if got := h.p.cfgRead32(h.d, h.cap+8); got != 80|1 {
		t.Errorf("PBA offset/BIR = %#x, want %#x", got, 80|1)
	}
	// Table size and offsets are read-only.
	h.p.cfgWrite32(h.d, h.cap+4, 0xFFFFFFF8)
	h.setControl(0x07FF)
	if got := h.p.cfgRead16(h.d, h.cap+2); got != 4 {
		t.Errorf("message control after write = %#x, want 4", got)
	}
	if got := h.p.cfgRead32(h.d, h.cap+4); got != 1 {
		t.Errorf("table offset after write = %#x", got)
	}
	// Every vector starts masked (vector control bit 0 = 1).
	for v := 0; v < 5; v++ {
		if got := h.barRead32(uint64(16*v + 12)); got != 1 {
			t.Errorf("vector %d control = %#x, want 1", v, got)
		}
	}
	// Reserved vector control bits read zero.
	h.tableWrite32(12, 0xFFFFFFFE)
	if got := h.barRead32(12); got != 0 {
		t.Errorf("vector control = %#x, want 0", got)
	}
}

func TestMSIXMaskingAndPending(t *testing.T) {
	h := newMSIXHarness(t, 4)
	// Disabled: Signal reports that INTx must be used.
	if ok, err := h.m.Signal(0); ok || err != nil {
		t.Fatalf("Signal while disabled = %v, %v; want false, nil", ok, err)
	}
	h.expect()

	// Enabled with the function masked: pending. The PBA follows the 4*16-byte
	// table at offset 64.
	h.setControl(0xC000)
	h.program(2, 0xFEE0_1000, 0x4022)
	h.tableWrite32(2*16+12, 0) // unmask vector 2
	if ok, err := h.m.Vector(2).Signal(); !ok || err != nil {
		t.Fatalf("Signal = %v, %v", ok, err)
	}
	h.expect()
	if got := h.barRead32(64); got != 1<<2 {
		t.Fatalf("PBA = %#x, want bit 2", got)
	}
	// The PBA is read-only.
	h.tableWrite32(64, 0)
	if got := h.barRead32(64); got != 1<<2 {
		t.Fatalf("PBA after write = %#x", got)
	}
	// Clearing the function mask delivers the pending message.
	h.setControl(0x8000)
	h.expect(msiMsg{0xFEE0_1000, 0x4022})
	if h.m.Pending(2) || h.barRead32(64) != 0 {
		t.Fatal("pending bit still set after delivery")
	}
	// Unmasked: direct delivery.
	h.m.Signal(2)
	h.expect(msiMsg{0xFEE0_1000, 0x4022})

	// A masked vector (vector 0 is still masked from reset) pends...
	h.program(0, 0xFEE0_0000, 0x30)
	h.m.Signal(0)
	h.expect()
	if !h.m.Pending(0) {
		t.Fatal("vector 0 not pending")
	}
	// ...and unmasking it delivers.
	h.tableWrite32(12, 0)
	h.expect(msiMsg{0xFEE0_0000, 0x30})

	// 64-bit table writes work too.
	var q [8]byte
	binary.LittleEndian.PutUint64(q[:], 0x1_FEE0_2000)
	h.bar.Write(h.base+16, q[:])
	h.tableWrite32(16+8, 0x55)
	h.tableWrite32(16+12, 0)
	h.m.Signal(1)
	h.expect(msiMsg{0x1_FEE0_2000, 0x55})

	// Out-of-range vector is an error, not a panic.
	if _, err := h.m.Signal(4); err == nil {
		t.Error("Signal(4) on a 4-vector table succeeded")
	}
	// Disabling MSI-X again: back to INTx.
	h.setControl(0)
	if ok, _ := h.m.Signal(1); ok {
		t.Error("Signal after disable returned true")
	}
	h.expect()
}
