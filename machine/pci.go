package machine

import (
	"github.com/govmm/govmm/devices/pci"
)

// createPCI puts a PCI host bridge on the port bus (configuration
// mechanism #1) and the BAR window on the MMIO bus, with a pvpanic device
// so that a guest kernel panic ends the run with ExitPanic.
//
// Linux finds the bus with no BIOS and no ACPI: pci_direct_probe checks that
// CONFIG_ADDRESS at 0xCF8 reads back, pci_sanity_check finds the host bridge
// at 00:00.0, and the BARs come pre-assigned inside the reserved window, so
// Linux keeps them. With ACPI, Linux scans only the buses the DSDT lists, so
// the DSDT describes this one as \_SB.PCI0 (acpi.go).
func (m *Machine) createPCI() error {
	panicDev := pci.NewPvPanic(func(events uint8) {
		if events&pci.PvPanicPanicked != 0 {
			m.finish(Result{Code: ExitPanic, Reason: "guest kernel panic (pvpanic)"})
		}
	})
	if _, err := m.devs.addPCI("pvpanic", false, func(pci.IRQLine) (pci.Device, error) { return panicDev, nil }); err != nil {
		return err
	}
	if err := m.pio.Register("pci-config", pci.ConfigIOPort, pci.ConfigIOSize, m.devs.pci.ConfigIO()); err != nil {
		return err
	}
	for _, r := range m.devs.pci.MMIORegions() {
		if err := m.mmio.Register(r.Name, r.Addr, r.Size, r.Dev); err != nil {
			return err
		}
	}
	return nil
}
