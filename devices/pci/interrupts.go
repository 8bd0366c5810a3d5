package pci

// MSIController delivers message-signalled interrupts; the machine backs it
// with KVM_SIGNAL_MSI. addr and data are the values the guest
// programmed into an MSI-X table entry (PCI 3.0 §6.8.2.6).
type MSIController interface {
	SignalMSI(addr uint64, data uint32) error
}

// IRQLine is a legacy INTx line. INTx is level-triggered: the device holds
// the line high until the driver acknowledges the interrupt. Lines may share
// an I/O APIC pin (PCI 3.0 §2.2.6); the machine makes the pin the OR of the
// lines on it (KVM_IRQ_LINE), so a device lowering its line never clears
// another's interrupt, and each driver asks its own device whether the
// interrupt was its own (for virtio, the ISR).
type IRQLine interface {
	SetLevel(high bool)
}
