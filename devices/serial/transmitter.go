package serial

// writeTHR handles a write to the transmitter holding register. Writing THR
// clears the THR-empty interrupt (8.6, Table IV); the byte is then sent at
// once, so THR is empty again and the interrupt is re-raised if enabled. The
// line is updated after each step, as in QEMU, so an edge-triggered
// interrupt controller sees a fresh rising edge when the line was already
// high. In loopback mode (8.8) the byte goes to the receiver and nothing is
// transmitted.
func (u *UART) writeTHR(b byte) (tx byte, transmit bool) {
	u.thrPending = false
	u.updateIRQ()
	if u.loopback() {
		u.receive(b)
	} else {
		tx, transmit = b, true
	}
	u.thrPending = u.ier&ierETBEI != 0
	u.updateIRQ()
	return tx, transmit
}
