// Package acpipm is the hardware-reduced ACPI power-management device: the
// FADT's sleep control register, sleep status register and reset register
// (ACPI 6.5 §4.8.3.6-§4.8.3.8), three byte-wide I/O ports. Writing SLP_EN
// with SLP_TYP = S5 to the sleep control register powers the machine off;
// writing the reset value to the reset register resets it. What "off" and
// "reset" mean is the caller's: the machine ends the run.
//
// The FADT that points at these ports is built by package acpi; the SLP_TYP
// values are the ones its DSDT's \_S5_ object gives.
package acpipm

import "github.com/govmm/govmm/acpi"

// Register offsets from the device's base port.
const (
	// SleepControl is SLEEP_CONTROL_REG (§4.8.3.7): bits 2-4 SLP_TYPx,
	// bit 5 SLP_EN; reads return 0.
	SleepControl = 0
	// SleepStatus is SLEEP_STATUS_REG (§4.8.3.8): bit 7 WAK_STS, write 1
	// to clear. The machine never sleeps, so it always reads 0.
	SleepStatus = 1
	// Reset is RESET_REG (§4.8.3.6): writing ResetValue resets.
	Reset = 2
	// Size is the number of ports the device takes.
	Size = 3
)

// ResetValue is the byte the FADT's RESET_VALUE names.
const ResetValue = 1

// Device is the three registers. Its methods are safe for concurrent use:
// it keeps no state, and the callbacks must be (the machine's are).
type Device struct {
	powerOff, reset func()
	// ignored, if set, is told about writes that do nothing (another
	// sleep state, another reset value): the machine logs them under -v.
	ignored func(reg string, v byte)
}

// New returns the device. powerOff runs when the guest enters S5, reset
// when it writes ResetValue to the reset register; ignored (may be nil)
// hears about other writes.
func New(powerOff, reset func(), ignored func(reg string, v byte)) *Device {
	return &Device{powerOff: powerOff, reset: reset, ignored: ignored}
}

// Read returns 0 for every register: no sleep type is latched and WAK_STS
// is never set.
func (d *Device) Read(offset uint64, data []byte) {
	clear(data)
}

// Write handles a guest write. Only the first byte counts: the registers
// are 8 bits wide (the FADT says byte access).
func (d *Device) Write(offset uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	v := data[0]
	switch offset {
	case SleepControl:
		typ := (v & acpi.SleepTypeMask) >> acpi.SleepTypeShift
		if v&acpi.SleepEnable != 0 && typ == acpi.SleepTypeS5 {
			d.powerOff()
			return
		}
		if v&acpi.SleepEnable != 0 {
			d.note("sleep control (SLP_TYP not S5)", v)
		}
	case SleepStatus:
		// WAK_STS is write-1-to-clear and never set: nothing to do.
	case Reset:
		if v == ResetValue {
			d.reset()
			return
		}
		d.note("reset register (not the reset value)", v)
	}
}

func (d *Device) note(reg string, v byte) {
	if d.ignored != nil {
		d.ignored(reg, v)
	}
}
