package serial

// modemInputs returns MSR bits 4-7 as the chip currently sees its inputs.
// In loopback (8.8, MCR bit 4) the inputs are disconnected and driven from
// the outputs instead: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
func (u *UART) modemInputs() byte {
	if !u.loopback() {
		return externalModemInputs
	}
	var v byte
	if u.mcr&mcrRTS != 0 {
		v |= msrCTS
	}
	if u.mcr&mcrDTR != 0 {
		v |= msrDSR
	}
	if u.mcr&mcrOUT1 != 0 {
		v |= msrRI
	}
	if u.mcr&mcrOUT2 != 0 {
		v |= msrDCD
	}
	return v
}

// sampleModemInputs updates MSR bits 4-7 and sets the delta bits (8.9):
// DCTS, DDSR and DDCD on any change, TERI only when RI goes from 1 to 0.
func (u *UART) sampleModemInputs() {
	in := u.modemInputs()
	changed := u.msrIn ^ in
	if changed&msrCTS != 0 {
		u.msrDelta |= msrDCTS
	}
	if changed&msrDSR != 0 {
		u.msrDelta |= msrDDSR
	}
	if changed&msrRI != 0 && in&msrRI == 0 {
		u.msrDelta |= msrTERI
	}
	if changed&msrDCD != 0 {
		u.msrDelta |= msrDDCD
	}
	u.msrIn = in
}

// writeMCR implements the modem control register (8.8); bits 5-7 read 0.
// Leaving loopback reconnects the receiver, so waiting host input flows in.
func (u *UART) writeMCR(v byte) {
	u.mcr = v & mcrMask
	u.sampleModemInputs()
	u.fill()
	u.updateIRQ()
}

// readMSR returns the modem status register and clears its delta bits (8.9),
// which clears the modem status interrupt.
func (u *UART) readMSR() byte {
	v := u.msrIn | u.msrDelta
	if u.msrDelta != 0 {
		u.msrDelta = 0
		u.updateIRQ()
	}
	return v
}
