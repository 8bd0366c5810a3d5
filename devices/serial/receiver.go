package serial

// Receiver side: RBR, LSR, FCR and host input.

// rxCap is how many bytes the receiver holds: the 16-byte FIFO in FIFO mode,
// the single receiver buffer register otherwise.
func (u *UART) rxCap() int {
	if u.fifoOn() {
		return FIFOSize
	}
	return 1
}

// rxTrigger is the receiver FIFO trigger level selected by FCR bits 6-7
// (PC16550D 8.5: 00=1, 01=4, 10=8, 11=14 bytes).
func (u *UART) rxTrigger() int {
	return [4]int{1, 4, 8, 14}[u.fcr>>6]
}

// Input queues host bytes for the guest and returns how many it accepted.
// It never blocks: once the receiver and the InputBufferSize-byte backlog are
// full it accepts fewer than len(p) (possibly 0) and the caller should retry
// later. In loopback mode the receiver is disconnected from the line (8.8),
// so bytes wait in the backlog until loopback ends.
func (u *UART) Input(p []byte) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, b := range p {
		if u.backlog.len() == 0 && !u.loopback() && u.rx.len() < u.rxCap() {
			u.rx.push(b)
		} else if !u.backlog.push(b) {
			break
		}
		n++
	}
	u.updateIRQ()
	return n
}

// fill moves backlog bytes into the receiver while it has room.
func (u *UART) fill() {
	if u.loopback() {
		return
	}
	for u.backlog.len() > 0 && u.rx.len() < u.rxCap() {
		b, _ := u.backlog.pop()
		u.rx.push(b)
	}
}

// receive delivers one byte from the line (only the loopback path uses it).
// 8.4 LSR bit 1: with FIFOs off, a byte arriving while DR is set overwrites
// RBR and sets OE; with FIFOs on, a byte arriving at a full FIFO is lost
// (the FIFO is not overwritten) and sets OE.
func (u *UART) receive(b byte) {
	switch {
	case u.rx.len() < u.rxCap():
		u.rx.push(b)
	case u.fifoOn():
		u.lsrErr |= lsrOE // FIFO full: the new byte is lost
	default:
		u.rx.reset() // 16450 mode: the new byte overwrites RBR
		u.rx.push(b)
		u.lsrErr |= lsrOE
	}
}

// readRBR pops the oldest received byte. Reading an empty receiver returns
// the previous byte again (the holding register keeps its contents).
func (u *UART) readRBR() byte {
	if b, ok := u.rx.pop(); ok {
		u.rbr = b
	}
	u.fill()
	u.updateIRQ()
	return u.rbr
}

// lsr computes the line status register (8.4). THRE and TEMT are always set
// because transmission is instantaneous. Bit 7 (error in RCVR FIFO) is never
// set because parity, framing and break errors are never produced.
func (u *UART) lsr() byte {
	v := lsrTHRE | lsrTEMT | u.lsrErr
	if u.rx.len() > 0 {
		v |= lsrDR
	}
	return v
}

// readLSR returns LSR and clears its error bits (8.4: OE, PE, FE and BI are
// reset whenever the CPU reads LSR), which clears the line status interrupt.
func (u *UART) readLSR() byte {
	v := u.lsr()
	if u.lsrErr != 0 {
		u.lsrErr = 0
		u.updateIRQ()
	}
	return v
}

// writeFCR implements the FIFO control register (8.5). Bit 0 enables both
// FIFOs and must be set for the other bits to take effect; changing it clears
// both FIFOs. Bits 1 and 2 clear the receiver and transmitter FIFOs and clear
// themselves. Bits 6-7 set the receiver trigger level. (Bit 3, DMA mode,
// has no effect without DMA.)
func (u *UART) writeFCR(v byte) {
	if v&fcrEnable == 0 {
		if u.fifoOn() {
			u.rx.reset()
		}
		u.fcr = 0
	} else {
		if !u.fifoOn() || v&fcrClearRX != 0 {
			u.rx.reset()
		}
		if v&fcrClearTX != 0 && u.ier&ierETBEI != 0 {
			// The transmit FIFO is always empty; like QEMU, clearing
			// it re-arms the THR-empty interrupt.
			u.thrPending = true
		}
		u.fcr = v & (fcrEnable | fcrTrigger)
	}
	u.fill()
	u.updateIRQ()
}
