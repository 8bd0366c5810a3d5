package serial

// Register offsets from the base port (PC16550D Table II). Offsets 0 and 1
// select the divisor latch instead when LCR.DLAB is set.
const (
	regRBR = 0 // read: receiver buffer; write: THR (transmitter holding)
	regIER = 1 // interrupt enable
	regIIR = 2 // read: interrupt identification; write: FCR (FIFO control)
	regLCR = 3 // line control
	regMCR = 4 // modem control
	regLSR = 5 // line status
	regMSR = 6 // modem status
	regSCR = 7 // scratch
)

// IER bits (PC16550D 8.7 Interrupt Enable Register). Bits 4-7 are always 0.
const (
	ierERBFI = 0x01 // received data available (and character timeout)
	ierETBEI = 0x02 // transmitter holding register empty
	ierELSI  = 0x04 // receiver line status
	ierEDSSI = 0x08 // modem status
	ierMask  = 0x0f
)

// IIR values (PC16550D 8.6 Interrupt Identification Register, Table IV),
// listed from highest to lowest priority.
const (
	iirNoInt   = 0x01 // bit 0 set: no interrupt pending
	iirRLS     = 0x06 // receiver line status: OE, PE, FE or BI
	iirRDA     = 0x04 // received data available (FIFO: trigger level reached)
	iirCTI     = 0x0c // character timeout (FIFO mode only)
	iirTHRE    = 0x02 // transmitter holding register empty
	iirMSI     = 0x00 // modem status
	iirFIFOsOn = 0xc0 // bits 6-7: set when FCR bit 0 is set
)

// FCR bits (PC16550D 8.5 FIFO Control Register).
const (
	fcrEnable  = 0x01 // enable both FIFOs; other bits are ignored unless set
	fcrClearRX = 0x02 // clear the receiver FIFO (self-clearing)
	fcrClearTX = 0x04 // clear the transmitter FIFO (self-clearing)
	fcrTrigger = 0xc0 // receiver trigger level: 1, 4, 8 or 14 bytes
)

// LCR bits (PC16550D 8.1 Line Control Register).
const (
	lcrDLAB = 0x80 // divisor latch access bit
)

// MCR bits (PC16550D 8.8 Modem Control Register). Bits 5-7 are always 0.
const (
	mcrDTR  = 0x01
	mcrRTS  = 0x02
	mcrOUT1 = 0x04
	mcrOUT2 = 0x08
	mcrLoop = 0x10
	mcrMask = 0x1f
)

// LSR bits (PC16550D 8.4 Line Status Register).
const (
	lsrDR   = 0x01 // data ready
	lsrOE   = 0x02 // overrun error
	lsrPE   = 0x04 // parity error (never produced here)
	lsrFE   = 0x08 // framing error (never produced here)
	lsrBI   = 0x10 // break interrupt (never produced here)
	lsrTHRE = 0x20 // transmitter holding register empty
	lsrTEMT = 0x40 // transmitter empty
	// lsrErrors are the bits that raise the receiver line status
	// interrupt and are cleared by reading LSR.
	lsrErrors = lsrOE | lsrPE | lsrFE | lsrBI
)

// MSR bits (PC16550D 8.9 Modem Status Register). Bits 0-3 are the "delta"
// bits, set on a change of the corresponding input and cleared by reading MSR.
const (
	msrDCTS  = 0x01
	msrDDSR  = 0x02
	msrTERI  = 0x04 // trailing edge of RI: RI went from 1 to 0
	msrDDCD  = 0x08
	msrCTS   = 0x10
	msrDSR   = 0x20
	msrRI    = 0x40
	msrDCD   = 0x80
	msrDelta = 0x0f
)

// Reset values (PC16550D Table III). The divisor latch is not reset by the
// chip; 0x000c (9600 baud with the PC's 1.8432 MHz clock) is what QEMU and
// PC firmware leave there.
const (
	resetDivisor = 0x000c
	// externalModemInputs is what MSR bits 4-7 read outside loopback:
	// the host side behaves like a connected, ready terminal (CTS, DSR and
	// DCD asserted, no ring), as in QEMU.
	externalModemInputs = msrCTS | msrDSR | msrDCD
)

// FIFOSize is the depth of the 16550's receiver (and transmitter) FIFO.
const FIFOSize = 16

// InputBufferSize is how many host bytes Input holds in front of the
// receiver, in addition to the receiver FIFO (or holding register) itself.
const InputBufferSize = 4096
