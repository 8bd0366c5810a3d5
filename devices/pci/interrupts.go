package pci

// MSIController delivers message-signalled interrupts; the machine backs it
// with KVM_SIGNAL_MSI (or irqfd). addr and data are the values the guest
// programmed into an MSI-X table entry (PCI 3.0 §6.8.2.6).
type MSIController interface {
	SignalMSI(addr uint64, data uint32) error
}

// IRQLine is a legacy INTx line (the machine backs it with KVM_IRQ_LINE or
// an irqfd on the IOAPIC). INTx is level-triggered: the device holds the
// line high until the driver acknowledges the interrupt.
type IRQLine interface {
	SetLevel(high bool)
}
