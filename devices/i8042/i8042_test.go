package i8042

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/bus"
)

type harness struct {
	t      *testing.T
	c      *Controller
	resets int
	irq    lineLog
	data   bus.Device
	cmd    bus.Device
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t}
	h.c = New(func() { h.resets++ }, &h.irq)
	h.data, h.cmd = h.c.DataPort(), h.c.CommandPort()
	return h
}

func (h *harness) status() byte {
	var b [1]byte
	h.cmd.Read(0, b[:])
	return b[0]
}

func (h *harness) readData() byte {
	var b [1]byte
	h.data.Read(0, b[:])
	return b[0]
}

func (h *harness) command(c byte)   { h.cmd.Write(0, []byte{c}) }
func (h *harness) writeData(b byte) { h.data.Write(0, []byte{b}) }

// response reads one response byte the way a polling driver does: OBF must
// be set, then the byte is read and OBF must clear.
func (h *harness) response(name string, want byte) {
	h.t.Helper()
	if st := h.status(); st&stOBF == 0 {
		h.t.Fatalf("%s: status %#02x, OBF clear", name, st)
	}
	if got := h.readData(); got != want {
		h.t.Errorf("%s = %#02x, want %#02x", name, got, want)
	}
	if st := h.status(); st&stOBF != 0 {
		h.t.Errorf("%s: status %#02x, OBF still set", name, st)
	}
}

func (h *harness) ctr() byte {
	h.t.Helper()
	h.command(0x20)
	if h.status()&stOBF == 0 {
		h.t.Fatalf("no CTR response")
	}
	return h.readData()
}

func TestResetState(t *testing.T) {
	h := newHarness(t)
	// Keyboard not inhibited (0x10), system flag (0x04); nothing queued,
	// input buffer never busy.
	if st := h.status(); st != 0x14 {
		t.Errorf("status = %#02x, want 0x14", st)
	}
	if got := h.readData(); got != 0 {
		t.Errorf("empty data port = %#02x, want 0", got)
	}
	h.command(0x20)
	h.response("CTR", 0x45) // XLATE | SYSFLAG | KBDINT
}

func TestStatusCommandDataBit(t *testing.T) {
	h := newHarness(t)
	h.command(0xad)
	if st := h.status(); st&stCmdDat == 0 {
		t.Errorf("status %#02x after a command, want bit 3 set", st)
	}
	h.writeData(0xf4) // to the absent keyboard, which answers with a time-out
	if st := h.status(); st&stCmdDat != 0 {
		t.Errorf("status %#02x after a data write, want bit 3 clear", st)
	}
}

func TestWriteCTR(t *testing.T) {
	h := newHarness(t)
	h.command(0x60)
	h.writeData(0x65)
	if got := h.ctr(); got != 0x65 {
		t.Errorf("CTR = %#02x, want 0x65", got)
	}
	// The system flag in status follows CTR bit 2.
	h.command(0x60)
	h.writeData(0x00)
	if st := h.status(); st != 0x10 {
		t.Errorf("status = %#02x, want 0x10", st)
	}
}

func TestInternalRAM(t *testing.T) {
	h := newHarness(t)
	h.command(0x65)
	h.writeData(0xa5)
	h.command(0x25)
	h.response("RAM[5]", 0xa5)
	h.command(0x3f)
	h.response("RAM[31]", 0x00)
}

func TestSelfTests(t *testing.T) {
	h := newHarness(t)
	h.command(0xaa)
	h.response("self test", 0x55)
	h.command(0xab)
	h.response("keyboard interface test", 0x00)
	h.command(0xa9)
	h.response("aux interface test", 0x00)
}

func TestEnableDisable(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		cmd, want byte
	}{
		{0xad, 0x55}, // disable keyboard: CTR bit 4 set
		{0xa7, 0x75}, // disable aux: CTR bit 5 set
		{0xae, 0x65}, // enable keyboard
		{0xa8, 0x45}, // enable aux
	} {
		h.command(tc.cmd)
		if h.status()&stOBF != 0 {
			t.Errorf("command %#02x queued a response", tc.cmd)
		}
		if got := h.ctr(); got != tc.want {
			t.Errorf("after %#02x CTR = %#02x, want %#02x", tc.cmd, got, tc.want)
		}
	}
}

func TestOutputPortReset(t *testing.T) {
	h := newHarness(t)
	h.command(0xd0)
	h.response("output port", 0x03)
	h.command(0xd1)
	h.writeData(0x03) // bit 0 set: no reset
	if h.resets != 0 {
		t.Fatalf("reset called for output port 0x03")
	}
	h.command(0xd1)
	h.writeData(0x02) // bit 0 clear: reset
	if h.resets != 1 {
		t.Fatalf("resets = %d, want 1", h.resets)
	}
	h.command(0xd0)
	h.response("output port after reset pulse", 0x03)
}

func TestPulseReset(t *testing.T) {
	for _, tc := range []struct {
		cmd   byte
		reset bool
	}{{0xfe, true}, {0xf0, true}, {0xfc, true}, {0xff, false}, {0xfd, false}} {
		h := newHarness(t)
		h.command(tc.cmd)
		if got := h.resets == 1; got != tc.reset || h.resets > 1 {
			t.Errorf("command %#02x: resets = %d, want reset %v", tc.cmd, h.resets, tc.reset)
		}
	}
	c := New(nil, nil) // nil reset and IRQ: no panic
	c.CommandPort().Write(0, []byte{0xfe})
	c.DataPort().Write(0, []byte{0xff})
}

// The reset callback runs without the lock held, so it may touch the
// controller: here it reads the status register and resets the controller,
// as a machine reset does. Inside the callback the controller still shows
// the state of the 0xFE write (status bit 3: last write was a command), and
// afterwards it is in its power-on state again.
func TestResetCallbackMayReenter(t *testing.T) {
	var c *Controller
	var inside []byte
	c = New(func() {
		var b [1]byte
		c.CommandPort().Read(0, b[:])
		inside = append(inside, b[0])
		c.Reset()
	}, nil)
	h := &harness{t: t, c: c, data: c.DataPort(), cmd: c.CommandPort()}
	// Leave state a reset must clear: CTR 0x00 (system flag off, so status
	// bit 2 clear) and the output port (0x03) waiting in the output buffer.
	h.command(0x60)
	h.writeData(0x00)
	h.command(0xd0)

	done := make(chan struct{})
	go func() {
		defer close(done)
		h.command(0xfe) // pulse the reset line
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("reset callback deadlocked: it runs with the controller lock held")
	}
	// 0x19: keyboard not inhibited (0x10), last write a command (0x08),
	// output buffer full (0x01); no system flag, since CTR bit 2 is 0.
	if len(inside) != 1 || inside[0] != 0x19 {
		t.Fatalf("status read inside the callback = % x, want exactly one read of 0x19", inside)
	}
	// After Reset: status 0x14 (no byte waiting, system flag back), the
	// waiting byte discarded, the CTR back to 0x45.
	if st := h.status(); st != 0x14 {
		t.Errorf("status after the re-entrant reset = %#02x, want 0x14", st)
	}
	if got := h.readData(); got != 0 {
		t.Errorf("data port after reset = %#02x, want 0 (queue cleared)", got)
	}
	h.command(0x20)
	h.response("CTR after reset", 0x45)
}

func TestLoopCommands(t *testing.T) {
	h := newHarness(t)
	h.command(0xd3)
	h.writeData(0x5a)
	if st := h.status(); st&(stOBF|stAuxData) != stOBF|stAuxData {
		t.Errorf("status = %#02x, want OBF and AUXDATA", st)
	}
	h.response("aux loop", 0x5a)
	h.command(0xd2)
	h.writeData(0xab)
	if st := h.status(); st&stAuxData != 0 {
		t.Errorf("status = %#02x, want AUXDATA clear for keyboard data", st)
	}
	h.response("keyboard loop", 0xab)
}

// lineLog records an IRQ line's levels.
type lineLog struct{ levels []bool }

func (l *lineLog) SetLevel(high bool) { l.levels = append(l.levels, high) }

// TestAbsentKeyboardAnswersTimeout: a byte for the keyboard gets, at once,
// 0xFE with status bit 6 (time-out) and a rising IRQ 1 (the CTR's reset
// value enables it); reading the byte clears OBF and the time-out bit and
// lowers the line. Linux's i8042_interrupt passes that on as
// SERIO_TIMEOUT, and libps2 takes 0xFE as a NAK: the command fails now
// instead of after its timeout.
func TestAbsentKeyboardAnswersTimeout(t *testing.T) {
	h := newHarness(t)
	h.writeData(0xf2) // ATKBD_CMD_GETID
	if st := h.status(); st&(stOBF|stTimeout|stAuxData) != stOBF|stTimeout {
		t.Fatalf("status = %#02x, want OBF and time-out (0x41), not AUXDATA", st)
	}
	if fmt.Sprint(h.irq.levels) != "[true]" {
		t.Fatalf("IRQ 1 levels %v, want [true]", h.irq.levels)
	}
	h.response("answer for the absent keyboard", 0xfe)
	if st := h.status(); st&stTimeout != 0 {
		t.Errorf("status = %#02x after the read, time-out still set", st)
	}
	if fmt.Sprint(h.irq.levels) != "[true false]" {
		t.Errorf("IRQ 1 levels %v, want [true false]", h.irq.levels)
	}
}

// TestKeyboardIRQFollowsCTR: with CTR bit 0 clear the answer waits without
// an interrupt, and setting the bit raises IRQ 1 for it.
func TestKeyboardIRQFollowsCTR(t *testing.T) {
	h := newHarness(t)
	h.command(0x60)
	h.writeData(0x44) // CTR: translation and system flag, no interrupts
	h.writeData(0xff) // keyboard reset
	if h.status()&stOBF == 0 || len(h.irq.levels) != 0 {
		t.Fatalf("status %#02x, IRQ levels %v: want the answer waiting, no IRQ", h.status(), h.irq.levels)
	}
	h.command(0x60)
	h.writeData(0x45) // keyboard interrupt on
	if fmt.Sprint(h.irq.levels) != "[true]" {
		t.Fatalf("IRQ 1 levels %v, want [true]", h.irq.levels)
	}
}

// TestMouseWritesDropped: a byte for the absent mouse gets no answer (the
// controller has no IRQ 12), and device writes never touch the CTR.
func TestMouseWritesDropped(t *testing.T) {
	h := newHarness(t)
	h.command(0xd4)
	h.writeData(0xf4) // to the absent mouse
	if st := h.status(); st&stOBF != 0 {
		t.Errorf("status = %#02x, want OBF clear", st)
	}
	h.writeData(0xff) // keyboard reset: answered, and the CTR unchanged
	h.readData()
	if got := h.ctr(); got != 0x45 {
		t.Errorf("CTR = %#02x changed by device writes", got)
	}
}

func TestNewCommandCancelsPendingParameter(t *testing.T) {
	h := newHarness(t)
	h.command(0x60)
	h.command(0xaa)
	h.response("self test", 0x55)
	h.writeData(0x00) // keyboard byte now, not CTR
	h.response("absent keyboard", 0xfe)
	if got := h.ctr(); got != 0x45 {
		t.Errorf("CTR = %#02x, want 0x45", got)
	}
}

func TestEmptyDataReadRepeatsLast(t *testing.T) {
	h := newHarness(t)
	h.command(0xaa)
	h.readData()
	if got := h.readData(); got != 0x55 {
		t.Errorf("empty read = %#02x, want last value 0x55", got)
	}
}

func TestQueueBounded(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 20; i++ {
		h.command(0xaa)
	}
	n := 0
	for h.status()&stOBF != 0 {
		if got := h.readData(); got != 0x55 {
			t.Fatalf("response %d = %#02x", n, got)
		}
		n++
		if n > 100 {
			t.Fatal("OBF never clears")
		}
	}
	if n != 16 {
		t.Errorf("%d responses queued, want 16", n)
	}
}

func TestPortAccessWidthAndOffset(t *testing.T) {
	h := newHarness(t)
	buf := []byte{0, 0}
	h.cmd.Read(0, buf)
	if !bytes.Equal(buf, []byte{0x14, 0xff}) {
		t.Errorf("2-byte status read = % x", buf)
	}
	h.data.Read(1, buf)
	if !bytes.Equal(buf, []byte{0xff, 0xff}) {
		t.Errorf("read at offset 1 = % x", buf)
	}
	h.cmd.Write(1, []byte{0xfe})
	h.cmd.Write(0, nil)
	h.data.Write(0, nil)
	h.cmd.Read(0, nil)
	if h.resets != 0 {
		t.Errorf("write at offset 1 reached the controller")
	}
}
