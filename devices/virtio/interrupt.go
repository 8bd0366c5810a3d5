package virtio

// ISR status bits (virtio 1.2 §4.1.4.5).
const (
	isrQueue  = 0x1
	isrConfig = 0x2
)

// signalQueue sends queue i's used-buffer notification.
func (t *PCI) signalQueue(i int) {
	t.interrupt(uint16(t.vectors[i].Load()), isrQueue)
}

// signalConfig sends a configuration change notification.
func (t *PCI) signalConfig() {
	t.interrupt(uint16(t.configVector.Load()), isrConfig)
}

// interrupt uses MSI-X vector vec when the driver enabled MSI-X (NO_VECTOR
// then means no interrupt, §4.1.5.1.2), else sets the ISR bit and raises
// INTx (§4.1.4.5.1). It never touches PCI configuration space, so the
// worker may call it while the transport's lock is held elsewhere.
func (t *PCI) interrupt(vec uint16, isrBit uint8) {
	if vec != NoVector {
		if ok, _ := t.msix.Signal(vec); ok {
			return
		}
	} else if t.msix.Enabled() {
		return
	}
	t.intxMu.Lock()
	defer t.intxMu.Unlock()
	was := t.isr
	t.isr |= isrBit
	if was == 0 && t.irq != nil {
		t.irq.SetLevel(true)
	}
}

// readISR returns and clears the ISR status, lowering INTx (§4.1.4.5).
func (t *PCI) readISR() uint8 {
	t.intxMu.Lock()
	defer t.intxMu.Unlock()
	v := t.isr
	t.isr = 0
	if v != 0 && t.irq != nil {
		t.irq.SetLevel(false)
	}
	return v
}
