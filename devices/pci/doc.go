// Package pci emulates PCI bus 0 for the machine: configuration mechanism #1
// (I/O ports 0xCF8-0xCFF), type-0 configuration headers with memory BARs,
// a host bridge at 00:00.0, the MSI-X capability, and a pvpanic device.
//
// References in comments are to the PCI Local Bus Specification 3.0 ("PCI
// 3.0 §x") unless they name another document.
//
// # Addresses
//
// There is no firmware. The machine hands the bus an MMIO window (above RAM,
// below 4 GiB, marked reserved in the e820 map) and the bus assigns every BAR
// a naturally aligned address inside it when the device is added, exactly as
// a BIOS would, and enables memory decoding. Linux then keeps the
// assignments ("firmware-assigned") and never needs to move anything.
//
// The bus decodes the whole window itself, following the BARs' current
// values and each function's Memory Space Enable bit, so the machine
// registers one MMIO range and never re-registers. A guest that moves a BAR
// inside the window therefore keeps working (accesses follow the BAR);
// Bus.OnBARMove tells the machine, which matters only for address-bound
// host state such as KVM ioeventfds. A BAR moved outside the window is not
// decoded.
//
// # Wiring (done by the machine)
//
//	bus := pci.NewBus(0xC000_0000, 0x1000_0000)   // host bridge at 00:00.0
//	pp := pci.NewPvPanic(func(ev uint8) { log.Printf("guest panic %#x", ev) })
//	slot, err := bus.Add(pp)                      // assigns BARs
//	...                                           // add virtio devices likewise
//	pio.Register("pci-conf", pci.ConfigIOPort, pci.ConfigIOSize, bus.ConfigIO())
//	for _, r := range bus.MMIORegions() {
//		mmio.Register(r.Name, r.Addr, r.Size, r.Dev)
//	}
//	slot.SetInterruptLine(gsi)                    // for devices that use INTx
//
// Devices raise interrupts through two small interfaces the machine
// implements: MSIController (KVM_SIGNAL_MSI) and IRQLine (KVM_IRQ_LINE).
package pci
