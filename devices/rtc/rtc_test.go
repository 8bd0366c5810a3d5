package rtc

import (
	"testing"
	"time"
)

// fakeClock is a settable host clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// known is a Monday (day of week 2), mid-second.
var known = time.Date(2026, 11, 30, 7, 50, 59, 300e6, time.UTC)

func newTest(t time.Time) (*RTC, *fakeClock) {
	c := &fakeClock{t: t}
	return New(c.now, nil), c
}

// get selects register i and reads it, as CMOS_READ does.
func get(r *RTC, i byte) byte {
	r.Write(0, []byte{i})
	var b [1]byte
	r.Read(1, b[:])
	return b[0]
}

// set selects register i and writes v, as CMOS_WRITE does.
func set(r *RTC, i, v byte) {
	r.Write(0, []byte{i})
	r.Write(1, []byte{v})
}

// clockBytes reads 0x00-0x09 and the century.
func clockBytes(r *RTC) [11]byte {
	var b [11]byte
	for i := byte(0); i < 10; i++ {
		b[i] = get(r, i)
	}
	b[10] = get(r, regCentury)
	return b
}

func checkBytes(t *testing.T, r *RTC, want [11]byte) {
	t.Helper()
	if got := clockBytes(r); got != want {
		t.Errorf("registers 0-9, 0x32 = % x\n                    want % x", got, want)
	}
}

func TestResetRegisters(t *testing.T) {
	r, _ := newTest(known)
	for _, c := range []struct {
		reg, want byte
	}{{regA, 0x26}, {regB, 0x02}, {regC, 0x00}, {regD, 0x80}, {0x0E, 0}, {0x31, 0}, {0x7F, 0}} {
		if got := get(r, c.reg); got != c.want {
			t.Errorf("register %#02x = %#02x, want %#02x", c.reg, got, c.want)
		}
	}
}

func TestBCD(t *testing.T) {
	r, _ := newTest(known)
	// sec, alarm, min, alarm, hour, alarm, day of week, day, month, year, century
	checkBytes(t, r, [11]byte{0x59, 0, 0x50, 0, 0x07, 0, 0x02, 0x30, 0x11, 0x26, 0x20})
}

func TestBinary(t *testing.T) {
	r, _ := newTest(known)
	set(r, regB, b24H|bDM)
	checkBytes(t, r, [11]byte{59, 0, 50, 0, 7, 0, 2, 30, 11, 26, 20})
}

func TestTwelveHour(t *testing.T) {
	for _, c := range []struct {
		hour     int
		bcd, bin byte
	}{
		{0, 0x12, 12},           // midnight is 12 AM
		{7, 0x07, 7},            // AM: bit 7 clear
		{12, 0x80 | 0x12, 0x8C}, // noon is 12 PM
		{19, 0x80 | 0x07, 0x87}, // 7 PM
		{23, 0x80 | 0x11, 0x8B},
	} {
		at := time.Date(2026, 11, 30, c.hour, 50, 59, 0, time.UTC)
		r, _ := newTest(at)
		set(r, regB, 0) // BCD, 12-hour
		if got := get(r, regHours); got != c.bcd {
			t.Errorf("%02d:50 BCD 12-hour = %#02x, want %#02x", c.hour, got, c.bcd)
		}
		set(r, regB, bDM)
		if got := get(r, regHours); got != c.bin {
			t.Errorf("%02d:50 binary 12-hour = %#02x, want %#02x", c.hour, got, c.bin)
		}
	}
}

// TestTwelveHourWrite sets 7 PM in 12-hour BCD mode and reads it back in
// 24-hour mode.
func TestTwelveHourWrite(t *testing.T) {
	r, _ := newTest(known)
	set(r, regB, bSET)
	set(r, regHours, 0x87)
	set(r, regB, 0)
	set(r, regB, b24H)
	if got := get(r, regHours); got != 0x19 {
		t.Errorf("hour = %#02x, want 0x19", got)
	}
}

func TestCentury(t *testing.T) {
	r, c := newTest(time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC))
	checkBytes(t, r, [11]byte{0x59, 0, 0x59, 0, 0x23, 0, 0x05, 0x31, 0x12, 0x99, 0x20})
	c.advance(time.Second)
	checkBytes(t, r, [11]byte{0x00, 0, 0x00, 0, 0x00, 0, 0x06, 0x01, 0x01, 0x00, 0x21})
	set(r, regB, b24H|bDM)
	if got := get(r, regCentury); got != 21 {
		t.Errorf("binary century = %d, want 21", got)
	}
}

func TestRegisterD(t *testing.T) {
	r, _ := newTest(known)
	set(r, regD, 0x00)
	if got := get(r, regD); got != dVRT {
		t.Errorf("register D after writing 0 = %#02x, want 0x80 (VRT)", got)
	}
}

func TestNMIBit(t *testing.T) {
	r, _ := newTest(known)
	r.Write(0, []byte{0x80 | regD})
	if !r.NMIDisabled() {
		t.Error("NMI bit not kept")
	}
	var b [1]byte
	r.Read(1, b[:])
	if b[0] != dVRT {
		t.Errorf("index 0x8D read %#02x, want register D (0x80)", b[0])
	}
	r.Write(0, []byte{regSeconds})
	if r.NMIDisabled() {
		t.Error("NMI bit still set after index write without bit 7")
	}
	if get(r, regSeconds) != 0x59 {
		t.Error("seconds not selected")
	}
	r.Read(0, b[:])
	if b[0] != 0xff {
		t.Errorf("index port read %#02x, want 0xff", b[0])
	}
}

func TestIndexSevenBits(t *testing.T) {
	r, _ := newTest(known)
	set(r, 0x7F, 0xA5)
	set(r, 0x0E, 0x5A)
	r.Write(0, []byte{0xFF}) // NMI off, index 0x7F
	var b [1]byte
	r.Read(1, b[:])
	if b[0] != 0xA5 {
		t.Errorf("index 0xFF read %#02x, want byte 0x7F (0xa5)", b[0])
	}
	if get(r, 0x8E) != 0x5A {
		t.Error("index 0x8E does not select byte 0x0E")
	}
}

func TestNVRAM(t *testing.T) {
	r, _ := newTest(known)
	for i := 0x0E; i < 0x80; i++ {
		if i != regCentury {
			set(r, byte(i), byte(i)^0x5A)
		}
	}
	for _, i := range []byte{regSecAlarm, regMinAlarm, regHourAlarm} {
		set(r, i, i|0xC0)
	}
	for i := 0x0E; i < 0x80; i++ {
		if i != regCentury && get(r, byte(i)) != byte(i)^0x5A {
			t.Errorf("NVRAM byte %#02x = %#02x", i, get(r, byte(i)))
		}
	}
	for _, i := range []byte{regSecAlarm, regMinAlarm, regHourAlarm} {
		if get(r, i) != i|0xC0 {
			t.Errorf("alarm byte %#02x = %#02x", i, get(r, i))
		}
	}
}

// TestSixteenBitAccess: outw to 0x70 is two byte cycles, index then data.
func TestSixteenBitAccess(t *testing.T) {
	r, _ := newTest(known)
	r.Write(0, []byte{0x40, 0x77})
	if get(r, 0x40) != 0x77 {
		t.Error("16-bit write did not store the high byte at the low byte's index")
	}
	b := []byte{0, 0}
	r.Write(0, []byte{regSeconds})
	r.Read(0, b)
	if b[0] != 0xff || b[1] != 0x59 {
		t.Errorf("16-bit read = % x, want ff 59", b)
	}
}

// TestSetTimeLinux writes the time the way Linux's mc146818_set_time does on
// Intel: SET, divider reset, the bytes, B restored, A restored. The first
// update comes 500 ms after the divider is released; the host clock is not
// touched.
func TestSetTimeLinux(t *testing.T) {
	r, c := newTest(known)
	host := c.t
	b, a := get(r, regB), get(r, regA)
	set(r, regB, b|bSET)
	set(r, regA, a|0x60) // RTC_DIV_RESET2
	for _, w := range [][2]byte{{regYear, 0x99}, {regMonth, 0x02}, {regDayOfMonth, 0x28},
		{regHours, 0x23}, {regMinutes, 0x59}, {regSeconds, 0x58}, {regCentury, 0x19}} {
		set(r, w[0], w[1])
	}
	c.advance(5 * time.Second) // frozen: nothing moves
	if got := get(r, regSeconds); got != 0x58 {
		t.Fatalf("seconds while SET = %#02x, want 0x58 as written", got)
	}
	set(r, regB, b)
	if get(r, regSeconds) != 0x58 || get(r, regA)&aUIP != 0 {
		t.Fatal("clock ran with the divider still in reset")
	}
	set(r, regA, a)
	c.advance(499 * time.Millisecond)
	if got := get(r, regSeconds); got != 0x58 {
		t.Fatalf("seconds 499 ms after release = %#02x, want 0x58", got)
	}
	c.advance(time.Millisecond)
	if got := get(r, regSeconds); got != 0x59 {
		t.Fatalf("seconds 500 ms after release = %#02x, want 0x59", got)
	}
	c.advance(3 * time.Second)
	// 1999-02-28 23:59:58 + 0.5 s + 3.5 s = 1999-03-01 00:00:02, a Monday.
	checkBytes(t, r, [11]byte{0x02, 0, 0x00, 0, 0x00, 0, 0x02, 0x01, 0x03, 0x99, 0x19})
	if c.t != host.Add(5*time.Second+3500*time.Millisecond) {
		t.Error("host clock changed")
	}
}

// TestSetTimeSETOnly sets the time with SET alone (Linux on AMD leaves the
// divider running): the divider's phase carries on, so the next update
// comes at the host's next sub-second boundary.
func TestSetTimeSETOnly(t *testing.T) {
	r, c := newTest(known) // phase .300
	set(r, regB, b24H|bSET)
	set(r, regMinutes, 0x00)
	set(r, regSeconds, 0x00)
	c.advance(1200 * time.Millisecond) // phase .500
	set(r, regB, b24H)
	if got := get(r, regSeconds); got != 0x00 {
		t.Fatalf("seconds = %#02x, want 0", got)
	}
	c.advance(499 * time.Millisecond)
	if get(r, regSeconds) != 0x00 {
		t.Fatal("update before the divider's second boundary")
	}
	c.advance(time.Millisecond)
	if get(r, regSeconds) != 0x01 {
		t.Fatal("no update at the divider's second boundary")
	}
	c.advance(61 * time.Second)
	checkBytes(t, r, [11]byte{0x02, 0, 0x01, 0, 0x07, 0, 0x02, 0x30, 0x11, 0x26, 0x20})
}

// TestWriteWhileRunning changes the minutes without SET: the change is
// immediate and the clock keeps going.
func TestWriteWhileRunning(t *testing.T) {
	r, c := newTest(known)
	set(r, regMinutes, 0x10)
	c.advance(2 * time.Second)
	checkBytes(t, r, [11]byte{0x01, 0, 0x11, 0, 0x07, 0, 0x02, 0x30, 0x11, 0x26, 0x20})
}

func TestSETClearsUIE(t *testing.T) {
	r, _ := newTest(known)
	set(r, regB, b24H|bUIE|bAIE|bPIE)
	if got := get(r, regB); got != b24H|bUIE|bAIE|bPIE {
		t.Errorf("B = %#02x", got)
	}
	set(r, regB, b24H|bUIE|bAIE|bPIE|bSET)
	if got := get(r, regB); got != b24H|bAIE|bPIE|bSET {
		t.Errorf("B with SET = %#02x, want UIE cleared", got)
	}
}

func TestUIP(t *testing.T) {
	base := time.Date(2026, 11, 30, 7, 50, 58, 0, time.UTC)
	for _, c := range []struct {
		ns   time.Duration
		uip  bool
		secs byte
	}{
		{0, false, 0x58},
		{time.Second - uipWindow - 1, false, 0x58},
		{time.Second - uipWindow, true, 0x58},
		{time.Second - 244*time.Microsecond, true, 0x58},
		{time.Second - 1, true, 0x58},
		{time.Second, false, 0x59},
	} {
		r, _ := newTest(base.Add(c.ns))
		if got := get(r, regA); (got&aUIP != 0) != c.uip || got&^aUIP != resetRegA {
			t.Errorf("+%v: A = %#02x, want UIP %v", c.ns, got, c.uip)
		}
		if got := get(r, regSeconds); got != c.secs {
			t.Errorf("+%v: seconds %#02x, want %#02x", c.ns, got, c.secs)
		}
		set(r, regB, b24H|bSET) // SET: no updates, UIP reads 0
		if get(r, regA)&aUIP != 0 {
			t.Errorf("+%v: UIP set while SET", c.ns)
		}
	}
}

// TestAvoidUIP runs Linux's mc146818_avoid_UIP loop (100 µs per retry) from
// every point of a second; it must succeed within its 10 ms budget.
func TestAvoidUIP(t *testing.T) {
	for start := time.Duration(0); start < time.Second; start += 50 * time.Microsecond {
		r, c := newTest(time.Date(2026, 11, 30, 7, 50, 0, 0, time.UTC).Add(start))
		ok := false
		for i := 0; i < 100 && !ok; i++ {
			if get(r, regA)&aUIP != 0 {
				c.advance(100 * time.Microsecond)
				continue
			}
			ok = true
		}
		if !ok {
			t.Fatalf("from +%v: UIP never cleared", start)
		}
	}
}

// TestRegisterCReadClears: UF is set by an update whether or not UIE is,
// IRQF only with UIE, and reading C clears every flag.
func TestRegisterCReadClears(t *testing.T) {
	r, c := newTest(known) // .300 into the second
	if got := get(r, regC); got != 0 {
		t.Fatalf("C at reset = %#02x", got)
	}
	set(r, regA, aDV32kHz) // RS = 0: no periodic flag
	c.advance(600 * time.Millisecond)
	if got := get(r, regC); got != 0 {
		t.Fatalf("C before the update = %#02x, want 0", got)
	}
	c.advance(100 * time.Millisecond)
	if got := get(r, regC); got != cUF {
		t.Fatalf("C after the update = %#02x, want UF (0x10)", got)
	}
	if got := get(r, regC); got != 0 {
		t.Fatalf("C read twice = %#02x, want 0", got)
	}
	set(r, regB, b24H|bUIE)
	c.advance(time.Second)
	if got := get(r, regC); got != cIRQF|cUF {
		t.Fatalf("C with UIE = %#02x, want IRQF|UF (0x90)", got)
	}
	if got := get(r, regC); got != 0 {
		t.Fatalf("C read twice = %#02x, want 0", got)
	}
	set(r, regC, 0xF0) // read-only
	if got := get(r, regC); got != 0 {
		t.Fatalf("C after a write = %#02x, want 0", got)
	}
}

func TestNoUpdateWhileSET(t *testing.T) {
	r, c := newTest(known)
	set(r, regA, aDV32kHz)
	set(r, regB, b24H|bSET)
	c.advance(3 * time.Second)
	if got := get(r, regC); got != 0 {
		t.Fatalf("C after 3 s of SET = %#02x, want 0", got)
	}
}

func TestPeriodicFlag(t *testing.T) {
	r, c := newTest(known.Truncate(time.Second)) // on a second boundary
	get(r, regC)
	// 1024 Hz (RS = 0110, the reset value): a tick every 976.5625 µs.
	c.advance(976 * time.Microsecond)
	if got := get(r, regC); got != 0 {
		t.Fatalf("C 976 µs in = %#02x, want 0", got)
	}
	c.advance(time.Microsecond)
	if got := get(r, regC); got != cPF {
		t.Fatalf("C 977 µs in = %#02x, want PF", got)
	}
	set(r, regB, b24H|bPIE)
	c.advance(time.Millisecond)
	if got := get(r, regC); got != cIRQF|cPF {
		t.Fatalf("C with PIE = %#02x, want IRQF|PF", got)
	}
	for rs, hz := range []int64{0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2} {
		if got := periodicHz(byte(rs)); got != hz {
			t.Errorf("RS %d: %d Hz, want %d", rs, got, hz)
		}
	}
}

func TestAlarmFlag(t *testing.T) {
	r, c := newTest(known) // 07:50:59.3
	set(r, regA, aDV32kHz)
	set(r, regSecAlarm, 0x05)
	set(r, regMinAlarm, 0x51)
	set(r, regHourAlarm, 0x07)
	get(r, regC)
	c.advance(5 * time.Second) // 07:51:04.3
	if got := get(r, regC); got != cUF {
		t.Fatalf("C before the alarm = %#02x, want UF", got)
	}
	set(r, regB, b24H|bAIE)
	c.advance(time.Second) // 07:51:05.3
	if got := get(r, regC); got != cIRQF|cAF|cUF {
		t.Fatalf("C at the alarm = %#02x, want IRQF|AF|UF", got)
	}
	// Don't-care hours and minutes: every hour at :--:05, found after an
	// idle hour without ticking in between.
	set(r, regHourAlarm, 0xC0)
	set(r, regMinAlarm, 0xFF)
	c.advance(59*time.Second + 500*time.Millisecond) // 07:52:04.8
	get(r, regC)
	c.advance(500 * time.Millisecond)
	if got := get(r, regC); got != cIRQF|cAF|cUF {
		t.Fatalf("C at a don't-care alarm = %#02x, want IRQF|AF|UF", got)
	}
	c.advance(2 * time.Hour)
	if got := get(r, regC); got&cAF == 0 {
		t.Fatalf("C after two hours = %#02x, want AF", got)
	}
}

// fakeIRQ records the line and refuses redundant calls.
type fakeIRQ struct {
	t     *testing.T
	level bool
	edges int
}

func (f *fakeIRQ) SetLevel(high bool) {
	if high == f.level {
		f.t.Fatalf("SetLevel(%v) without a change", high)
	}
	f.level = high
	if high {
		f.edges++
	}
}

// newIRQTest returns an RTC with an interrupt line and a recorded timer.
func newIRQTest(t *testing.T, at time.Time) (*RTC, *fakeClock, *fakeIRQ, *[]time.Duration) {
	c := &fakeClock{t: at}
	irq := &fakeIRQ{t: t}
	r := New(c.now, irq)
	var wakes []time.Duration
	r.wake = func(d time.Duration) { wakes = append(wakes, d) }
	return r, c, irq, &wakes
}

func TestInterruptLine(t *testing.T) {
	r, c, irq, wakes := newIRQTest(t, known) // .300
	get(r, regC)
	if len(*wakes) != 0 {
		t.Fatalf("timer armed with no interrupt enabled: %v", *wakes)
	}
	set(r, regB, b24H|bUIE)
	if n := len(*wakes); n == 0 || (*wakes)[n-1] != 700*time.Millisecond {
		t.Fatalf("UIE: timer %v, want 700ms", *wakes)
	}
	c.advance(700 * time.Millisecond)
	r.tick()
	if !irq.level || irq.edges != 1 {
		t.Fatalf("update with UIE: line %v after %d edges", irq.level, irq.edges)
	}
	n := len(*wakes)
	c.advance(3 * time.Second) // the line stays high until C is read
	r.tick()
	if len(*wakes) != n || irq.edges != 1 {
		t.Fatalf("timer re-armed or line pulsed while IRQF set")
	}
	if got := get(r, regC); got != cIRQF|cPF|cUF { // PF: 1024 Hz, not enabled
		t.Fatalf("C = %#02x, want IRQF|PF|UF", got)
	}
	if irq.level {
		t.Fatal("line still high after C was read")
	}
	if got := (*wakes)[len(*wakes)-1]; got != time.Second {
		t.Fatalf("next wake %v, want 1s", got)
	}
	set(r, regB, b24H|bPIE) // 1024 Hz from .000: next tick at 976.5625 µs
	if got := (*wakes)[len(*wakes)-1]; got != 976563*time.Nanosecond {
		t.Fatalf("PIE wake %v, want 976.563µs", got)
	}
	set(r, regB, b24H)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	set(r, regB, b24H|bUIE)
	c.advance(time.Second)
	r.tick()
	if irq.level {
		t.Fatal("line driven after Close")
	}
}

// TestTimer uses the real timer and clock: with PIE at 8192 Hz the line
// rises at once, and again after each read of C.
func TestTimer(t *testing.T) {
	irq := &chanIRQ{ch: make(chan bool, 4)}
	r := New(time.Now, irq)
	defer r.Close()
	get(r, regC)
	set(r, regA, aDV32kHz|3)
	set(r, regB, b24H|bPIE)
	for i := 0; i < 3; i++ {
		select {
		case l := <-irq.ch:
			if !l {
				t.Fatal("line fell while IRQF was set")
			}
		case <-time.After(3 * time.Second):
			t.Fatal("no periodic interrupt within 3 s")
		}
		if got := get(r, regC); got&(cIRQF|cPF) != cIRQF|cPF {
			t.Fatalf("C = %#02x, want IRQF|PF", got)
		}
		if l := <-irq.ch; l {
			t.Fatal("line did not fall when C was read")
		}
	}
}

type chanIRQ struct{ ch chan bool }

func (c *chanIRQ) SetLevel(high bool) { c.ch <- high }

// TestHostClockFollowed: with no guest write, the guest sees the host's
// time exactly, in UTC even if the clock reports another zone.
func TestHostClockFollowed(t *testing.T) {
	loc := time.FixedZone("UTC+5", 5*3600)
	r, c := newTest(known.In(loc))
	checkBytes(t, r, [11]byte{0x59, 0, 0x50, 0, 0x07, 0, 0x02, 0x30, 0x11, 0x26, 0x20})
	c.advance(24 * time.Hour)
	if get(r, regDayOfMonth) != 0x01 || get(r, regMonth) != 0x12 {
		t.Error("date did not follow the host clock")
	}
}

// TestDMChangeWhileStopped: the chip does not convert the bytes when DM
// changes; they are reinterpreted when the clock restarts.
func TestDMChangeWhileStopped(t *testing.T) {
	r, _ := newTest(known)
	set(r, regB, b24H|bSET)
	if got := get(r, regMinutes); got != 0x50 {
		t.Fatalf("frozen minutes = %#02x", got)
	}
	set(r, regB, b24H|bSET|bDM)
	if got := get(r, regMinutes); got != 0x50 {
		t.Fatalf("frozen minutes after DM = %#02x, want the same byte", got)
	}
	set(r, regB, b24H|bDM)
	// 07:0x50:0x59 is now 07:80:89 in binary, normalised to 08:21:29.
	if m, h := get(r, regMinutes), get(r, regHours); m != 21 || h != 8 {
		t.Errorf("binary hour, minutes = %d, %d, want 8, 21", h, m)
	}
}
