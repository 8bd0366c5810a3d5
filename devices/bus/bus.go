// Package bus is what every emulated device shares with the buses that
// reach it: the Device interface (an access at an offset with a width) and
// FillOnes, the value of a read that nothing drives. The machine's port and
// MMIO buses, PCI BARs and configuration ports, the i8042 ports and the
// UART all speak it; it imports nothing, so any device package may use it.
package bus

// Device is anything on a bus: port I/O or MMIO. offset is relative to the
// start of the range the device was registered at; len(data) is the access
// width (1, 2, 4 or 8). Read fills data; Write consumes it. Devices see
// nothing else: no address, no VCPU, no bus.
type Device interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// FillOnes sets every byte of data to 0xFF: what a read returns when no
// device drives the bus, an undriven ISA bus or a PCI master abort (PCI 3.0
// §3.3.3.1), and the bytes of a register wider than a device decodes.
func FillOnes(data []byte) {
	for i := range data {
		data[i] = 0xFF
	}
}
