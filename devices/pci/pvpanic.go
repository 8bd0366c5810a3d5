package pci

// pvpanic as QEMU's pvpanic-pci (hw/misc/pvpanic-pci.c, docs/specs/pvpanic.rst)
// and as Linux's drivers/misc/pvpanic/pvpanic-pci.c probes it: Red Hat
// vendor 0x1b36, device 0x0011, class "other system peripheral", one
// register in BAR 0. A read returns the events the device supports; the
// guest writes an event when it panics.
const (
	PvPanicVendorID = 0x1b36
	PvPanicDeviceID = 0x0011
	// ClassSystemOther is base class 0x08 (system peripheral), sub-class
	// 0x80 (other).
	ClassSystemOther = 0x088000

	// PvPanicPanicked: the guest panicked and the host should act.
	PvPanicPanicked = 1 << 0
	// PvPanicCrashLoaded: the guest panicked and will handle it itself
	// (kdump); the host should only record it.
	PvPanicCrashLoaded = 1 << 1

	pvpanicBARSize = 4096
)

// PvPanic is the pvpanic PCI device.
type PvPanic struct {
	cfg *Config
	// events is the supported set. Immutable.
	events uint8
	// onEvent receives each non-empty event write. Immutable.
	onEvent func(events uint8)
}

// NewPvPanic returns a pvpanic device that supports PANICKED and
// CRASH_LOADED and calls onEvent (on the vCPU goroutine) with the supported
// bits of every write that has any.
func NewPvPanic(onEvent func(events uint8)) *PvPanic {
	p := &PvPanic{
		cfg: NewConfig(Header{
			VendorID: PvPanicVendorID,
			DeviceID: PvPanicDeviceID,
			Revision: 1,
			Class:    ClassSystemOther,
			// Subsystem IDs as QEMU's default for Red Hat devices.
			SubsystemVendorID: 0x1af4,
			SubsystemID:       0x1100,
		}),
		events:  PvPanicPanicked | PvPanicCrashLoaded,
		onEvent: onEvent,
	}
	// BAR 0 is free on a fresh Config, so this cannot fail.
	if err := p.cfg.AddBAR(0, BAR{Size: pvpanicBARSize, Name: "pvpanic", Handler: pvpanicReg{p}}); err != nil {
		panic(err)
	}
	return p
}

// PCIConfig implements Device.
func (p *PvPanic) PCIConfig() *Config { return p.cfg }

// pvpanicReg is BAR 0.
type pvpanicReg struct{ p *PvPanic }

// Read implements bus.Device: byte 0 holds the supported events.
func (r pvpanicReg) Read(off uint64, data []byte) {
	clear(data)
	if off == 0 {
		data[0] = r.p.events
	}
}

// Write implements bus.Device: unsupported bits are ignored.
func (r pvpanicReg) Write(off uint64, data []byte) {
	if off != 0 {
		return
	}
	if ev := data[0] & r.p.events; ev != 0 && r.p.onEvent != nil {
		r.p.onEvent(ev)
	}
}
