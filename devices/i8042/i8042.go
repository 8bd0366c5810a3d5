// Package i8042 is a minimal PS/2 (8042) keyboard controller with nothing
// plugged into it. It exists so that a guest's i8042 driver probes quickly
// and cleanly instead of timing out, and so that the guest can reset the
// machine through it (Linux's "reboot=k", the default fallback after ACPI).
//
// A byte sent to the keyboard (a data port write that is not a command
// parameter) gets what an 8042 with its keyboard unplugged answers: 0xFE
// with the time-out bit set in the status register, at once, and IRQ 1
// when the configuration byte enables it. Linux's i8042 driver turns that
// into SERIO_TIMEOUT and libps2 into a failed command, so atkbd gives up in
// two round trips instead of waiting out its timeouts (about 0.6 s, which
// Linux's device_shutdown waits for too when a short-lived guest powers
// off during the probe). Bytes for the mouse (command 0xD4) are dropped:
// the controller has no IRQ 12, and Linux finds no AUX port without it.
//
// Command and bit names follow Linux's drivers/input/serio/i8042.h.
package i8042

import (
	"sync"

	"github.com/govmm/govmm/devices/bus"
)

// Status register bits (port 0x64, read).
const (
	stOBF     = 0x01 // output buffer full: a byte is waiting at port 0x60
	stIBF     = 0x02 // input buffer full: never set, writes complete at once
	stSysFlag = 0x04 // system flag, a copy of CTR bit 2
	stCmdDat  = 0x08 // last write was to the command port (1) or data port (0)
	stKeyLock = 0x10 // 1 = keyboard not inhibited
	stAuxData = 0x20 // the waiting byte came from the aux (mouse) port
	stTimeout = 0x40 // the waiting byte reports a device time-out
)

// Controller configuration byte (CTR) bits.
const (
	ctrKbdInt  = 0x01 // keyboard interrupt enable
	ctrAuxInt  = 0x02 // aux interrupt enable
	ctrSysFlag = 0x04 // system flag: POST passed
	ctrKbdDis  = 0x10 // keyboard clock disabled
	ctrAuxDis  = 0x20 // aux clock disabled
	ctrXlate   = 0x40 // translate scan code set 2 to set 1
)

// Reset values. The CTR is what a PC BIOS leaves behind: keyboard interrupt
// on, POST passed, translation on. The output port has the reset line
// (bit 0, active low) released and A20 (bit 1) enabled.
const (
	resetCTR     = ctrXlate | ctrSysFlag | ctrKbdInt
	resetOutPort = 0x03
	// queueSize bounds pending responses; Linux's flush reads at most 16.
	queueSize = 16
	// noDevice is the byte an absent device "answers", with stTimeout
	// (Linux's i8042.c maps a time-out to 0xFE, libps2's PS2_RET_NAK).
	noDevice = 0xfe
)

// IRQ is the controller's keyboard interrupt line (ISA IRQ 1).
type IRQ interface{ SetLevel(high bool) }

// response is one byte waiting in the output buffer.
type response struct {
	b       byte
	aux     bool // from the aux port: sets stAuxData while at the head
	timeout bool // a device time-out: sets stTimeout while at the head
}

// Controller is the 8042. Its methods are safe for concurrent use.
type Controller struct {
	mu    sync.Mutex
	reset func()
	// irq is IRQ 1, high while a keyboard byte waits and the CTR enables
	// the keyboard interrupt; level is its last level.
	irq   IRQ
	level bool

	// ram is the controller's 32-byte internal RAM (commands 0x20-0x3F read
	// it, 0x60-0x7F write it); ram[0] is the configuration byte (CTR).
	ram     [32]byte
	outPort byte
	// param is the command waiting for its parameter byte on port 0x60,
	// or 0 if the next data byte goes to the keyboard.
	param  byte
	cmdDat bool // status bit 3

	queue  [queueSize]response
	qHead  int
	qLen   int
	lastRd byte // the last byte read from port 0x60; re-read when empty
}

// New returns a controller in its reset state. reset is called (from the
// vCPU's goroutine, without any lock held) whenever the guest pulses the CPU
// reset line; it may be nil. irq is IRQ 1; it may be nil (no interrupts).
func New(reset func(), irq IRQ) *Controller {
	c := &Controller{reset: reset, irq: irq}
	c.Reset()
	return c
}

// Reset puts the controller back in its power-on state, as a machine reset
// would. It does not call the reset callback.
func (c *Controller) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ram = [32]byte{0: resetCTR}
	c.outPort = resetOutPort
	c.param = 0
	c.cmdDat = false
	c.qHead, c.qLen = 0, 0
	c.lastRd = 0
	c.updateIRQ()
}

// updateIRQ drives IRQ 1 (8042 output IRQ1): high while the output buffer
// holds a keyboard byte and CTR bit 0 enables its interrupt. An edge-
// triggered I/O APIC pin sees each new byte as a rising edge, because
// reading the byte lowers the line. Call it with mu held.
func (c *Controller) updateIRQ() {
	high := c.qLen > 0 && !c.queue[c.qHead].aux && c.ram[0]&ctrKbdInt != 0
	if high == c.level || c.irq == nil {
		c.level = high
		return
	}
	c.level = high
	c.irq.SetLevel(high)
}

// DataPort returns the bus device for port 0x60 (one byte, offset 0).
func (c *Controller) DataPort() bus.Device { return dataPort{c} }

// CommandPort returns the bus device for port 0x64 (one byte, offset 0):
// status on read, command on write.
func (c *Controller) CommandPort() bus.Device { return commandPort{c} }

type dataPort struct{ c *Controller }

func (p dataPort) Read(offset uint64, data []byte) {
	port(offset, data, func() byte { return p.c.readData() })
}

func (p dataPort) Write(offset uint64, data []byte) {
	if offset == 0 && len(data) > 0 {
		p.c.writeData(data[0])
	}
}

type commandPort struct{ c *Controller }

func (p commandPort) Read(offset uint64, data []byte) {
	port(offset, data, func() byte { return p.c.status() })
}

func (p commandPort) Write(offset uint64, data []byte) {
	if offset == 0 && len(data) > 0 {
		p.c.writeCommand(data[0])
	}
}

// port fills a read of a one-byte port: data[0] from read at offset 0,
// everything else 0xff (an undriven ISA bus).
func port(offset uint64, data []byte, read func() byte) {
	bus.FillOnes(data)
	if offset == 0 && len(data) > 0 {
		data[0] = read()
	}
}

// status returns the status register. Reading it has no side effects.
func (c *Controller) status() byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := byte(stKeyLock) | c.ram[0]&ctrSysFlag
	if c.cmdDat {
		s |= stCmdDat
	}
	if c.qLen > 0 {
		s |= stOBF
		if c.queue[c.qHead].aux {
			s |= stAuxData
		}
		if c.queue[c.qHead].timeout {
			s |= stTimeout
		}
	}
	return s
}

// readData pops the output buffer; with nothing waiting it returns the last
// byte read again (0 before any).
func (c *Controller) readData() byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.qLen > 0 {
		c.lastRd = c.queue[c.qHead].b
		c.qHead = (c.qHead + 1) % queueSize
		c.qLen--
		c.updateIRQ()
	}
	return c.lastRd
}

// push queues a response byte; it is dropped if the queue is full.
func (c *Controller) push(b byte, aux bool) { c.pushResponse(response{b: b, aux: aux}) }

func (c *Controller) pushResponse(r response) {
	if c.qLen == queueSize {
		return
	}
	c.queue[(c.qHead+c.qLen)%queueSize] = r
	c.qLen++
	c.updateIRQ()
}
