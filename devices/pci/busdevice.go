package pci

// BusDevice is the machine's bus-device convention: offset is relative to the
// start of the registered range and len(data) is the access width (1, 2, 4
// or 8). Read fills data; Write consumes it.
type BusDevice interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// Region is one guest-physical range the machine registers on its MMIO bus.
type Region struct {
	// Name identifies the range in the machine's messages.
	Name string
	// Addr and Size delimit the range.
	Addr, Size uint64
	// Dev handles accesses; offsets are relative to Addr.
	Dev BusDevice
}

// fillOnes makes a read of nothing return all-ones, as an unclaimed PCI
// transaction does (master abort, PCI 3.0 §3.3.3.1).
func fillOnes(data []byte) {
	for i := range data {
		data[i] = 0xFF
	}
}
