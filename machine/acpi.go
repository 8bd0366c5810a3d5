package machine

import (
	"fmt"

	"github.com/govmm/govmm/acpi"
	"github.com/govmm/govmm/devices/acpipm"
	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/rtc"
	"github.com/govmm/govmm/memory"
)

// Exit reasons of the ACPI power-management registers.
const (
	reasonACPIPowerOff = "guest powered off (ACPI S5)"
	reasonACPIReset    = "guest reset (ACPI reset register)"
)

// acpiConfig describes the machine to package acpi: the same CPUs, I/O
// APIC ID and interrupt routing as the MP table (writeMPTable), the PCI
// host bridge and INTx routes, and the power-management ports. irqs are
// the PCI INTx routes.
func (c *Config) acpiConfig(irqs []acpi.PCIIRQ) acpi.Config {
	return acpi.Config{
		CPUs: c.CPUs, LAPICAddr: lapicAddr, IOAPICAddr: ioapicAddr,
		// The MP table gives the I/O APIC the first ID after the CPUs.
		IOAPICID:         uint8(c.CPUs),
		SleepControlPort: acpiPMPort + acpipm.SleepControl,
		SleepStatusPort:  acpiPMPort + acpipm.SleepStatus,
		ResetPort:        acpiPMPort + acpipm.Reset,
		ResetValue:       acpipm.ResetValue,
		Century:          rtc.CenturyIndex,
		PCI: &acpi.PCI{
			MMIOBase: pciMMIOBase, MMIOSize: pciMMIOSize, ConfigPort: pci.ConfigIOPort, IRQs: irqs,
		},
		// The legacy devices, with the IRQs the MP table's ISA entries
		// route (package acpi says why the DSDT must list them).
		ISA: []acpi.ISADevice{
			{Name: "COM1", HID: "PNP0501", UID: 1, Ports: []acpi.PortRange{{Base: com1Port, Len: 8}}, IRQ: com1IRQ},
			{Name: "KBD", HID: "PNP0303", Ports: []acpi.PortRange{{Base: i8042Data, Len: 1}, {Base: i8042Cmd, Len: 1}}, IRQ: i8042KbdIRQ},
			{Name: "RTC", HID: "PNP0B00", Ports: []acpi.PortRange{{Base: cmosIndex, Len: 2}}, IRQ: rtcIRQ},
		},
		MaxSize: acpiMax,
	}
}

// planACPI checks, before KVM is opened, that the tables fit in their
// region for any set of devices: it builds them with an INTx route for
// every PCI slot. The tables the guest gets are built by writeACPITables.
func (p *Plan) planACPI() error {
	if !p.cfg.ACPI {
		return nil
	}
	var all []acpi.PCIIRQ
	for s := range uint8(pci.NumSlots) {
		all = append(all, acpi.PCIIRQ{Slot: s, GSI: pciINTxBase + uint32(s%pciINTxPins)})
	}
	if _, err := acpi.Build(acpiAddr, p.cfg.acpiConfig(all)); err != nil {
		return fmt.Errorf("ACPI tables: %w", err)
	}
	p.notef("ACPI: tables at %#x, power-management ports %#x-%#x", acpiAddr, acpiPMPort, acpiPMPort+acpipm.Size-1)
	return nil
}

// writeACPITables writes the RSDP and the tables at acpiAddr. Like the MP
// table, they are built once the machine exists, because the DSDT's _PRT
// lists the PCI slots and INTx pins the devices got; both tables are built
// from the device manager's intxRoutes, so they agree.
func (m *Machine) writeACPITables() error {
	var irqs []acpi.PCIIRQ
	for _, r := range m.devs.intxRoutes() {
		irqs = append(irqs, acpi.PCIIRQ{Slot: r.slot, Pin: r.pin, GSI: r.gsi})
	}
	t, err := acpi.Build(acpiAddr, m.cfg.acpiConfig(irqs))
	if err != nil {
		return fmt.Errorf("ACPI tables: %w", err)
	}
	return m.mem.Write(memory.GuestAddress(acpiAddr), t.Data)
}

// createACPIPM registers the sleep control, sleep status and reset
// registers the FADT names (devices/acpipm). They are there with -acpi=off
// too: without a FADT no guest finds them, and a raw guest may use them.
func (m *Machine) createACPIPM() error {
	dev := acpipm.New(
		func() { m.finish(Result{Code: ExitOK, Reason: reasonACPIPowerOff}) },
		func() { m.finish(Result{Code: ExitOK, Reason: reasonACPIReset, Reset: true}) },
		func(reg string, v byte) { m.logf("ACPI: ignored write %#02x to the %s", v, reg) },
	)
	return m.pio.Register("acpi-pm", acpiPMPort, acpipm.Size, dev)
}
