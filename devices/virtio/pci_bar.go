package virtio

// barHandler serves BAR 0: common configuration, ISR, device configuration
// and the notify area.
type barHandler struct{ t *PCI }

// Read implements bus.Device.
func (b barHandler) Read(off uint64, data []byte) {
	t := b.t
	clear(data)
	n := uint64(len(data))
	switch {
	case off >= commonOffset && off < commonOffset+commonCfgLen:
		t.readCommon(off-commonOffset, data)
	case off == isrOffset:
		data[0] = t.readISR()
	case off >= deviceOffset && off < deviceOffset+deviceMaxLen:
		o := off - deviceOffset
		if o+n <= t.dev.ConfigSize() {
			t.dev.ReadConfig(o, data)
		}
	}
}

// Write implements bus.Device.
func (b barHandler) Write(off uint64, data []byte) {
	t := b.t
	n := uint64(len(data))
	switch {
	case off >= commonOffset && off < commonOffset+commonCfgLen:
		t.writeCommon(off-commonOffset, data)
	case off >= deviceOffset && off < deviceOffset+deviceMaxLen:
		o := off - deviceOffset
		if o+n <= t.dev.ConfigSize() {
			t.dev.WriteConfig(o, data)
		}
	case off >= notifyOffset && off < notifyOffset+NotifyOffMultiplier*uint64(t.nq):
		// Reached only when the machine did not bind the address with
		// KVM_IOEVENTFD: do what KVM would have done. The value written
		// (the queue index) is not needed: the address says which queue.
		t.kick(int((off - notifyOffset) / NotifyOffMultiplier))
	}
}
