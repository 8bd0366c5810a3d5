package pci

import "github.com/govmm/govmm/devices/bus"

// Region is one guest-physical range the machine registers on its MMIO bus.
type Region struct {
	// Name identifies the range in the machine's messages.
	Name string
	// Addr and Size delimit the range.
	Addr, Size uint64
	// Dev handles accesses; offsets are relative to Addr.
	Dev bus.Device
}
