package pci

import "testing"

// Linux's pci_check_type1 (arch/x86/pci/direct.c): a byte write to 0xCFB,
// then CONFIG_ADDRESS must read back 0x80000000.
func TestConfigAddressReadBack(t *testing.T) {
	_, p := newTestBus(t)
	p.out8(0xCFB, 0x01)
	p.out32(0xCF8, 0x80000000)
	if got := p.in32(0xCF8); got != 0x80000000 {
		t.Fatalf("CONFIG_ADDRESS = %#x, want 0x80000000", got)
	}
	p.out32(0xCF8, 0x8000F8FC)
	if got := p.in32(0xCF8); got != 0x8000F8FC {
		t.Fatalf("CONFIG_ADDRESS = %#x, want 0x8000f8fc", got)
	}
	// Bits 1:0 are read-only zero (PCI 3.0 §3.2.2.3.2).
	p.out32(0xCF8, 0x80000013)
	if got := p.in32(0xCF8); got != 0x80000010 {
		t.Fatalf("CONFIG_ADDRESS = %#x, want 0x80000010", got)
	}
	// A byte write inside 0xCF8-0xCFB is not a CONFIG_ADDRESS write.
	p.out8(0xCF8, 0x44)
	if got := p.in32(0xCF8); got != 0x80000010 {
		t.Fatalf("CONFIG_ADDRESS after byte write = %#x, want 0x80000010", got)
	}
}

func TestHostBridgeConfigAccessWidths(t *testing.T) {
	_, p := newTestBus(t)
	if got := p.cfgRead32(0, 0x00); got != 0x0008_1b36 {
		t.Errorf("dword 0x00 = %#x, want 0x00081b36", got)
	}
	p.out32(0xCF8, cfgAddr(0, 0, 0, 0))
	if got := p.in16(0xCFC); got != 0x1b36 {
		t.Errorf("vendor word = %#x, want 0x1b36", got)
	}
	if got := p.in16(0xCFE); got != 0x0008 {
		t.Errorf("device word = %#x, want 0x0008", got)
	}
	want := []uint8{0x36, 0x1b, 0x08, 0x00}
	for i, w := range want {
		if got := p.in8(0xCFC + uint16(i)); got != w {
			t.Errorf("byte %d = %#x, want %#x", i, got, w)
		}
	}
	// pci_sanity_check reads the class word at 0x0A: 0x0600 is a host bridge.
	if got := p.cfgRead16(0, 0x0A); got != 0x0600 {
		t.Errorf("class word = %#x, want 0x0600", got)
	}
	// Header type 0, single function.
	p.out32(0xCF8, cfgAddr(0, 0, 0, 0x0C))
	if got := p.in8(0xCFE); got != 0 {
		t.Errorf("header type = %#x, want 0", got)
	}
}

func TestAbsentFunctionsReadAllOnes(t *testing.T) {
	_, p := newTestBus(t)
	if got := p.cfgRead16(5, 0); got != 0xFFFF {
		t.Errorf("empty slot vendor = %#x, want 0xffff", got)
	}
	if got := p.cfgRead32(31, 0); got != 0xFFFFFFFF {
		t.Errorf("empty slot 31 = %#x", got)
	}
	p.out32(0xCF8, cfgAddr(1, 0, 0, 0))
	if got := p.in32(0xCFC); got != 0xFFFFFFFF {
		t.Errorf("bus 1 = %#x, want all-ones", got)
	}
	p.out32(0xCF8, cfgAddr(0, 0, 1, 0))
	if got := p.in32(0xCFC); got != 0xFFFFFFFF {
		t.Errorf("function 1 = %#x, want all-ones", got)
	}
	p.out32(0xCF8, 0x00000000) // enable bit clear
	if got := p.in32(0xCFC); got != 0xFFFFFFFF {
		t.Errorf("disabled cycle = %#x, want all-ones", got)
	}
	// An extended register number (AMD bits 27:24) does not alias onto
	// the first 256 bytes.
	p.out32(0xCF8, cfgAddr(0, 0, 0, 0)|1<<24)
	if got := p.in32(0xCFC); got != 0xFFFFFFFF {
		t.Errorf("extended register 0x100 = %#x, want all-ones", got)
	}
	// Writes to absent functions go nowhere and do not panic.
	p.cfgWrite32(7, 0x04, 0xFFFFFFFF)
}

func TestReadOnlyHeaderFieldsIgnoreWrites(t *testing.T) {
	b, p := newTestBus(t)
	cfg := NewConfig(Header{VendorID: 0x1234, DeviceID: 0x5678, Revision: 3, Class: 0x018000,
		SubsystemVendorID: 0xAAAA, SubsystemID: 0xBBBB, InterruptPin: 1})
	s, err := b.Add(&testDev{cfg})
	if err != nil {
		t.Fatal(err)
	}
	d := uint32(s.Number())
	for _, reg := range []uint32{0x00, 0x08, 0x2C, 0x30} {
		before := p.cfgRead32(d, reg)
		p.cfgWrite32(d, reg, 0xFFFFFFFF)
		if got := p.cfgRead32(d, reg); got != before {
			t.Errorf("reg %#x changed from %#x to %#x", reg, before, got)
		}
	}
	if got := p.cfgRead32(d, 0x08); got != 0x01800003 {
		t.Errorf("class/revision = %#x, want 0x01800003", got)
	}
	if got := p.cfgRead32(d, 0x2C); got != 0xBBBBAAAA {
		t.Errorf("subsystem = %#x, want 0xbbbbaaaa", got)
	}
	// Interrupt line is read-write, pin is read-only.
	p.cfgWrite32(d, 0x3C, 0xFFFF_FF0B)
	if got := p.cfgRead32(d, 0x3C); got != 0x0000_010B {
		t.Errorf("interrupt line/pin = %#x, want 0x0000010b", got)
	}
	s.SetInterruptLine(10)
	if got := p.cfgRead32(d, 0x3C) & 0xFF; got != 10 {
		t.Errorf("interrupt line = %d, want 10", got)
	}
	// Command: I/O space cannot be enabled (no I/O BARs); status is read-only.
	p.cfgWrite32(d, 0x04, 0xFFFF_0007)
	if got := p.cfgRead32(d, 0x04); got != 0x0000_0006 {
		t.Errorf("command/status = %#x, want 0x00000006", got)
	}
}
