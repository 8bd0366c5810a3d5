package serial

import (
	"io"
	"sync"

	"github.com/govmm/govmm/devices/bus"
)

// IRQ is the UART's interrupt line. The machine backs it with KVM_IRQ_LINE.
//
// SetLevel is called only when the level changes, with the UART's lock held,
// so implementations must not call back into the UART.
type IRQ interface{ SetLevel(high bool) }

// UART is one 16550A. Its methods are safe for concurrent use: typically a
// vCPU goroutine calls Read and Write while a console goroutine calls Input.
type UART struct {
	mu sync.Mutex // guards everything below except out, obuf and outErrs

	// outMu serialises writes to out. Write takes it before releasing mu,
	// so bytes reach out in THR-write order while Input (which needs only
	// mu) is never blocked by a slow writer.
	outMu   sync.Mutex
	out     io.Writer
	obuf    [1]byte // one-byte write buffer, guarded by outMu
	outErrs uint64  // bytes dropped because out failed, guarded by outMu

	irq   IRQ
	level bool // last level given to irq

	// onPolled, if set, is told when PolledTransmit changes (see
	// OnPolledTransmitChange).
	onPolled func(polled bool)

	divisor uint16 // DLM:DLL
	ier     byte   // bits 0-3 only
	lcr     byte
	mcr     byte // bits 0-4 only
	scr     byte
	fcr     byte // FCR bit 0 and trigger bits 6-7; the clear bits self-clear

	// lsrErr holds the sticky LSR error bits (only OE is ever produced);
	// DR, THRE and TEMT are computed.
	lsrErr byte
	// msrIn is MSR bits 4-7 as last sampled; msrDelta is bits 0-3.
	msrIn, msrDelta byte

	// thrPending is the THR-empty interrupt source. It is only ever true
	// while IER.ETBEI is set: it is set when ETBEI is enabled (THR is
	// always empty) and after each THR write, and cleared by reading IIR
	// while it is the reported source.
	thrPending bool

	// rx is the receiver: the 16-byte FIFO in FIFO mode, or (capacity 1)
	// the receiver buffer register in 16450 mode.
	rx ring
	// rbr is the last byte read from the receiver; reading an empty
	// receiver returns it again.
	rbr byte
	// backlog holds host input not yet moved into rx.
	backlog ring
}

// New returns a UART in its reset state that writes transmitted bytes to out
// and drives irq. Either may be nil (output discarded, no interrupts).
func New(out io.Writer, irq IRQ) *UART {
	if out == nil {
		out = io.Discard
	}
	return &UART{
		out:     out,
		irq:     irq,
		divisor: resetDivisor,
		msrIn:   externalModemInputs,
		rx:      newRing(FIFOSize),
		backlog: newRing(InputBufferSize),
	}
}

// Read implements a port read at offset 0..7 from the UART's base port.
// data[0] receives the register; any further bytes, and all bytes of a read
// beyond offset 7, read as 0xff (an undriven ISA bus).
func (u *UART) Read(offset uint64, data []byte) {
	bus.FillOnes(data)
	if len(data) == 0 || offset > regSCR {
		return
	}
	u.mu.Lock()
	data[0] = u.readReg(offset)
	u.mu.Unlock()
}

// Write implements a port write at offset 0..7 from the UART's base port.
// Only data[0] is used; writes beyond offset 7 are ignored.
func (u *UART) Write(offset uint64, data []byte) {
	if len(data) == 0 || offset > regSCR {
		return
	}
	u.mu.Lock()
	polled := u.polledTransmit()
	b, transmit := u.writeReg(offset, data[0])
	if !transmit {
		changed, hook := u.polledTransmit() != polled, u.onPolled
		u.mu.Unlock()
		if changed && hook != nil {
			hook(!polled)
		}
		return
	}
	u.outMu.Lock()
	u.mu.Unlock()
	u.emit(b)
	u.outMu.Unlock()
}

// PolledTransmit reports whether a write to offset 0 now does nothing but
// transmit the byte: LCR.DLAB is 0 (offset 0 is THR, not DLL), the
// THR-empty interrupt is disabled (IER.ETBEI, Linux's UART_IER_THRI) and
// the UART is not in loopback (where the byte would reach the receiver).
// This is the mode of a polling console driver, such as Linux's
// serial8250_console_write: while it holds, a THR write changes nothing
// the guest can see through the UART's registers or its interrupt line, so
// the machine may apply it late, as long as it does so before the guest's
// next access that exits (machine/coalesce.go).
func (u *UART) PolledTransmit() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.polledTransmit()
}

func (u *UART) polledTransmit() bool {
	return !u.dlab() && u.ier&ierETBEI == 0 && !u.loopback()
}

// OnPolledTransmitChange sets f to be called after each write that changes
// PolledTransmit, with the new value, from the goroutine that made the
// write, once the UART's lock is released (f may call back into the UART).
// Writes by several goroutines at once may deliver their calls in another
// order than their changes took effect: f should read PolledTransmit
// under its own lock rather than trust its argument. Set it before the
// guest runs; nil removes it.
func (u *UART) OnPolledTransmitChange(f func(polled bool)) {
	u.mu.Lock()
	u.onPolled = f
	u.mu.Unlock()
}

// OutputErrors returns how many transmitted bytes were dropped because the
// output writer returned an error or accepted nothing.
func (u *UART) OutputErrors() uint64 {
	u.outMu.Lock()
	defer u.outMu.Unlock()
	return u.outErrs
}

// emit writes one transmitted byte to out. Called with outMu held.
func (u *UART) emit(b byte) {
	u.obuf[0] = b
	if n, err := u.out.Write(u.obuf[:]); n != 1 || err != nil {
		u.outErrs++
	}
}

func (u *UART) dlab() bool { return u.lcr&lcrDLAB != 0 }

func (u *UART) loopback() bool { return u.mcr&mcrLoop != 0 }

func (u *UART) fifoOn() bool { return u.fcr&fcrEnable != 0 }

// readReg returns the register at offset, applying read side effects.
func (u *UART) readReg(offset uint64) byte {
	switch offset {
	case regRBR:
		if u.dlab() {
			return byte(u.divisor)
		}
		return u.readRBR()
	case regIER:
		if u.dlab() {
			return byte(u.divisor >> 8)
		}
		return u.ier
	case regIIR:
		return u.readIIR()
	case regLCR:
		return u.lcr
	case regMCR:
		return u.mcr
	case regLSR:
		return u.readLSR()
	case regMSR:
		return u.readMSR()
	default: // regSCR
		return u.scr
	}
}

// writeReg stores v at offset. If the write was to THR outside loopback it
// returns the byte to transmit and true.
func (u *UART) writeReg(offset uint64, v byte) (tx byte, transmit bool) {
	switch offset {
	case regRBR:
		if u.dlab() {
			u.divisor = u.divisor&0xff00 | uint16(v)
			return 0, false
		}
		return u.writeTHR(v)
	case regIER:
		if u.dlab() {
			u.divisor = u.divisor&0x00ff | uint16(v)<<8
			return 0, false
		}
		u.writeIER(v)
	case regIIR:
		u.writeFCR(v)
	case regLCR:
		// 8.1: bit 7 is DLAB; the other bits set the frame format,
		// which does not matter to an instantaneous transmitter.
		u.lcr = v
	case regMCR:
		u.writeMCR(v)
	case regLSR, regMSR:
		// Read-only here. (The datasheet allows LSR writes for factory
		// test only; QEMU ignores both.)
	default: // regSCR
		// 8.10: the scratch register has no effect on the UART.
		u.scr = v
	}
	return 0, false
}
