package i8042

// Controller commands (written to port 0x64).
const (
	cmdReadRAM    = 0x20 // 0x20-0x3F: read RAM byte cmd&0x1f; 0x20 reads CTR
	cmdWriteRAM   = 0x60 // 0x60-0x7F: write RAM byte cmd&0x1f; 0x60 writes CTR
	cmdAuxDisable = 0xa7
	cmdAuxEnable  = 0xa8
	cmdAuxTest    = 0xa9 // aux interface test: 0x00 = OK
	cmdSelfTest   = 0xaa // controller self test: 0x55 = OK
	cmdKbdTest    = 0xab // keyboard interface test: 0x00 = OK
	cmdKbdDisable = 0xad
	cmdKbdEnable  = 0xae
	cmdReadOut    = 0xd0 // read output port
	cmdWriteOut   = 0xd1 // write output port; bit 0 clear asserts reset
	cmdKbdLoop    = 0xd2 // next data byte comes back as keyboard data
	cmdAuxLoop    = 0xd3 // next data byte comes back as aux data
	cmdAuxSend    = 0xd4 // next data byte goes to the aux device
	cmdPulse      = 0xf0 // 0xF0-0xFF: pulse output lines whose mask bit is 0
)

const (
	selfTestOK  = 0x55
	portTestOK  = 0x00
	outPortNRST = 0x01 // output port / pulse mask bit 0: CPU reset, active low
)

// writeCommand handles a write to port 0x64. A new command cancels one still
// waiting for its parameter.
func (c *Controller) writeCommand(cmd byte) {
	c.mu.Lock()
	c.cmdDat = true
	c.param = 0
	doReset := false
	switch {
	case cmd >= cmdReadRAM && cmd <= cmdReadRAM+0x1f:
		c.push(c.ram[cmd&0x1f], false)
	case cmd >= cmdWriteRAM && cmd <= cmdWriteRAM+0x1f,
		cmd == cmdWriteOut, cmd == cmdKbdLoop, cmd == cmdAuxLoop, cmd == cmdAuxSend:
		c.param = cmd
	case cmd == cmdAuxDisable:
		c.ram[0] |= ctrAuxDis
	case cmd == cmdAuxEnable:
		c.ram[0] &^= ctrAuxDis
	case cmd == cmdAuxTest, cmd == cmdKbdTest:
		c.push(portTestOK, false)
	case cmd == cmdSelfTest:
		c.ram[0] |= ctrSysFlag
		c.push(selfTestOK, false)
	case cmd == cmdKbdDisable:
		c.ram[0] |= ctrKbdDis
	case cmd == cmdKbdEnable:
		c.ram[0] &^= ctrKbdDis
	case cmd == cmdReadOut:
		c.push(c.outPort, false)
	case cmd >= cmdPulse:
		// Bits 0-3 are a mask, 0 = pulse that line; line 0 is reset.
		// 0xFE is the classic "reset the CPU"; 0xFF pulses nothing.
		doReset = cmd&outPortNRST == 0
	}
	// Anything else is unknown here and ignored, like a real 8042.
	c.mu.Unlock()
	if doReset {
		c.pulseReset()
	}
}

// writeData handles a write to port 0x60: the parameter of a pending
// command, or else a byte for the absent keyboard, answered with a time-out.
func (c *Controller) writeData(b byte) {
	c.mu.Lock()
	c.cmdDat = false
	cmd := c.param
	c.param = 0
	doReset := false
	switch {
	case cmd >= cmdWriteRAM && cmd <= cmdWriteRAM+0x1f:
		c.ram[cmd&0x1f] = b
		c.updateIRQ() // CTR bit 0 gates IRQ 1
	case cmd == cmdWriteOut:
		// Bit 1 (A20) is recorded but not modelled: guest memory
		// never wraps at 1 MiB under KVM.
		// A reset is delivered as a pulse: the line is released again
		// so the machine does not stay in reset.
		c.outPort = b | outPortNRST
		doReset = b&outPortNRST == 0
	case cmd == cmdKbdLoop:
		c.push(b, false)
	case cmd == cmdAuxLoop:
		c.push(b, true)
	case cmd == 0:
		// A byte for the keyboard, which is not there: the answer
		// of an 8042 whose device does not clock it in.
		c.pushResponse(response{b: noDevice, timeout: true})
	}
	// cmdAuxSend: no mouse is attached, and there is no IRQ 12 to
	// report its time-out with; the byte is dropped.
	c.mu.Unlock()
	if doReset {
		c.pulseReset()
	}
}

func (c *Controller) pulseReset() {
	if c.reset != nil {
		c.reset()
	}
}
