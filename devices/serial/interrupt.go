package serial

// pendingID returns IIR bits 0-3: the highest-priority enabled interrupt
// source, in the priority order of PC16550D Table IV, or iirNoInt.
func (u *UART) pendingID() byte {
	if u.ier&ierELSI != 0 && u.lsrErr&lsrErrors != 0 {
		return iirRLS
	}
	if u.ier&ierERBFI != 0 && u.rx.len() > 0 {
		// 8.11: in FIFO mode "data available" means the trigger level
		// is reached; below it the character timeout reports the rest
		// (at once here: see the package doc). The receiver is kept
		// full from the backlog, so below the trigger level no more
		// input is waiting.
		if u.fifoOn() && u.rx.len() < u.rxTrigger() {
			return iirCTI
		}
		return iirRDA
	}
	if u.ier&ierETBEI != 0 && u.thrPending {
		return iirTHRE
	}
	if u.ier&ierEDSSI != 0 && u.msrDelta != 0 {
		return iirMSI
	}
	return iirNoInt
}

// updateIRQ recomputes the interrupt line and tells irq only if the level
// changed. The line is high exactly when an enabled source is pending; it is
// not gated on MCR OUT2 (see the package doc).
func (u *UART) updateIRQ() {
	level := u.pendingID()&iirNoInt == 0
	if level == u.level {
		return
	}
	u.level = level
	if u.irq != nil {
		u.irq.SetLevel(level)
	}
}

// readIIR returns the interrupt identification register (8.6). Bits 6-7
// are set when FIFOs are enabled; bits 4-5 are always 0. Reading IIR while
// the THR-empty interrupt is the reported source clears that source.
func (u *UART) readIIR() byte {
	id := u.pendingID()
	v := id
	if u.fifoOn() {
		v |= iirFIFOsOn
	}
	if id == iirTHRE {
		u.thrPending = false
		u.updateIRQ()
	}
	return v
}

// writeIER implements the interrupt enable register (8.7); bits 4-7 read 0.
// As in real hardware and QEMU, setting ETBEI while THR is empty (always,
// here) raises the THR-empty interrupt even if it had been cleared by an
// IIR read; clearing ETBEI drops it.
func (u *UART) writeIER(v byte) {
	v &= ierMask
	changed := u.ier ^ v
	u.ier = v
	if changed&ierETBEI != 0 {
		u.thrPending = v&ierETBEI != 0
	}
	u.updateIRQ()
}
