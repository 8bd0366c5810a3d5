package acpipm

import "testing"

type events struct {
	off, reset int
	ignored    []string
}

func newDev() (*Device, *events) {
	e := &events{}
	d := New(func() { e.off++ }, func() { e.reset++ }, func(reg string, v byte) { e.ignored = append(e.ignored, reg) })
	return d, e
}

// TestLinuxPowerOff replays what Linux's acpi_hw_extended_sleep writes for
// S5 with \_S5_ = {5, 0}: WAK_STS to the status register, then
// SLP_TYP=5 << 2 | SLP_EN = 0x34 to the control register.
func TestLinuxPowerOff(t *testing.T) {
	d, e := newDev()
	d.Write(SleepStatus, []byte{0x80})
	if e.off != 0 || e.reset != 0 {
		t.Fatalf("clearing WAK_STS powered off or reset: %+v", e)
	}
	d.Write(SleepControl, []byte{0x34})
	if e.off != 1 || e.reset != 0 {
		t.Fatalf("after 0x34: %+v, want one power-off", e)
	}
}

func TestSleepControlOther(t *testing.T) {
	d, e := newDev()
	for _, v := range []byte{0x14 /* SLP_TYP 5 without SLP_EN */, 0x00, 0x24 /* S1 with SLP_EN */, 0x20} {
		d.Write(SleepControl, []byte{v})
	}
	if e.off != 0 || e.reset != 0 {
		t.Fatalf("%+v, want nothing", e)
	}
	if len(e.ignored) != 2 {
		t.Errorf("ignored %v, want the two writes with SLP_EN and another type", e.ignored)
	}
}

func TestReset(t *testing.T) {
	d, e := newDev()
	d.Write(Reset, []byte{0x02})
	if e.reset != 0 || len(e.ignored) != 1 {
		t.Fatalf("0x02: %+v, want ignored", e)
	}
	d.Write(Reset, []byte{ResetValue})
	if e.reset != 1 || e.off != 0 {
		t.Fatalf("reset value: %+v, want one reset", e)
	}
}

func TestReadsZeroAndNilIgnored(t *testing.T) {
	d := New(func() {}, func() {}, nil)
	for off := range uint64(Size) {
		b := []byte{0xAA, 0xBB}
		d.Read(off, b)
		if b[0] != 0 || b[1] != 0 {
			t.Errorf("read at %d = % x, want zeros", off, b)
		}
	}
	d.Write(Reset, []byte{7}) // no ignored callback: must not panic
	d.Write(Reset, nil)
}
