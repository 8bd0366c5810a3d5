// Package rtc emulates the PC's CMOS real-time clock, a Motorola MC146818A
// (and its successors, the Dallas DS1287/DS12887), as a port-I/O bus device
// of two ports: index (offset 0, I/O port 0x70 on a PC) and data (offset 1,
// port 0x71). It reports the host's wall-clock time in UTC, so that a guest
// without kvm-clock (Linux's mach_get_cmos_time, rtc_cmos, hwclock, date)
// gets the right time.
//
// References in comments are to sections of the Motorola MC146818A
// datasheet: "Address Map", "Time, Calendar, and Alarm Locations" (with its
// table of binary and BCD data modes), "Update Cycle", "Interrupts" and
// "Registers" (Register A to D). The century byte at 0x32 is the IBM PC AT convention,
// which ACPI's FADT CENTURY field points at.
//
// # The index port
//
// A write to the index port selects one of the 128 bytes with bits 0-6; bit
// 7 is the PC's NMI-disable bit, which is kept (NMIDisabled) and is not part
// of the index, so 0x8D selects register D. The index port is write-only on
// a PC; reading it returns 0xFF (undriven bus), as QEMU does.
//
// # Time
//
// The time comes from an injectable clock (New's argument, time.Now in
// govmm). The guest's time is the host's plus an offset that starts at zero;
// the guest setting the clock (hwclock --systohc) changes only that offset,
// for the life of the device, never the host's clock. The time bytes are
// derived from the clock on every read, in the format register B asks for
// (BCD or binary per DM, 24- or 12-hour per 24/12 with the PM flag in hour
// bit 7), so a guest that changes DM while the clock runs sees the same time
// in the new format. The day-of-week byte (1 = Sunday) is derived from the
// date; DSE (daylight saving) is stored but has no effect: the clock is UTC.
//
// While the clock is stopped (register B SET, or register A's divider not
// at 010, the 32.768 kHz time base: 11x resets the divider chain, the other
// values select other crystals or factory tests) the time bytes hold what
// they held when it stopped and are plain storage: the guest's writes read
// back byte for byte, as on the chip. When the clock starts again they are
// decoded (in the then current format) into the new time; values that are
// not a valid date are normalised as Go's time.Date does, where the chip's
// behaviour is undefined. If the divider was what held the clock, the first update comes
// half a second after it is released (Register A, DV2-DV0 "11x": "the first
// update cycle begins one-half second later"), which is what Linux's
// mc146818_set_time relies on; if only SET held it, the divider's phase
// carried on underneath. A time byte written while the clock runs takes
// effect at once and keeps the sub-second phase.
//
// # UIP
//
// Register A's update-in-progress bit is reported honestly: it is 1 during
// the last 2228 µs before each second boundary of the guest's time, that is
// t_BUC = 244 µs ahead of an update cycle plus the cycle itself, t_UC =
// 1984 µs with a 32.768 kHz time base ("Update Cycle"), and 0 otherwise and
// whenever the clock is stopped. The time bytes change at the end of that
// window, all at once, so every byte a guest reads is consistent and
// "UIP = 0" keeps the datasheet's promise that no update starts for at least
// 244 µs. Always-0 would be cheaper but breaks guests that synchronise to
// the clock tick by waiting for UIP to rise and fall (util-linux hwclock's
// --directisa path polls ten million times and then fails). The full
// window, rather than 244 µs alone, is nine times easier to catch for a
// guest whose port exits are slow. A guest that waits while UIP is set, as
// Linux's mc146818_avoid_UIP does (in 100 µs or 1 ms steps, giving up
// after 10 ms), waits at most 2.3 ms; a read costs one clock reading.
//
// # Flags and interrupts
//
// Register C's flags follow "Register C" and "Interrupts": UF is set when
// an update ends, AF when it ends with the time matching the three alarm
// bytes (0xC0-0xFF in one is "don't care"), PF at the periodic rate RS3-RS0
// selects (none, 256 Hz, 128 Hz, then 8192 Hz down to 2 Hz) whenever the
// divider runs, each whether or not its interrupt is enabled; IRQF is set
// while a flag and its enable bit (PF/PIE, AF/AIE, UF/UIE) are both set.
// Reading C returns them and clears them all. The flags are computed from
// the clock when C is read, so a polling guest costs nothing more.
//
// The interrupt line (ISA IRQ 8 on a PC) is high while IRQF is set, like
// the chip's IRQ pin, and falls when C is read, so an edge-triggered
// IOAPIC pin sees one edge per interrupt, as on QEMU. To raise it while the
// guest is not reading, one timer is armed for the next event that would
// set IRQF: at each second boundary while UIE or AIE is set, at each
// periodic tick while PIE is set. None is armed while IRQF is already set
// (the line stays high until C is read) or no enable bit is set. Without
// interrupts, util-linux hwclock, which waits for an update interrupt on
// /dev/rtc0 (Linux's RTC core builds it on the alarm), would time out
// after 5-10 s and fail.
//
// # NVRAM
//
// Bytes 0x0E-0x7F other than the century byte are plain read/write storage,
// zero at start; govmm reports no memory sizes or BIOS settings there.
// Register D reads 0x80 (VRT: the RAM and time are valid) and ignores
// writes; register C ignores writes too.
package rtc

import (
	"sync"
	"time"
)

// Register indices ("Address Map").
const (
	regSeconds    = 0x00
	regSecAlarm   = 0x01
	regMinutes    = 0x02
	regMinAlarm   = 0x03
	regHours      = 0x04
	regHourAlarm  = 0x05
	regDayOfWeek  = 0x06
	regDayOfMonth = 0x07
	regMonth      = 0x08
	regYear       = 0x09
	regA          = 0x0A
	regB          = 0x0B
	regC          = 0x0C
	regD          = 0x0D
	// regCentury is the IBM PC AT century byte (BCD or binary, like the
	// year), the FADT's CENTURY.
	regCentury = 0x32
)

// CenturyIndex is the CMOS RAM index of the century byte (the IBM PC AT
// convention), which an ACPI FADT's CENTURY field names.
const CenturyIndex = regCentury

// Register A bits: UIP (read-only), the divider DV2-DV0 and the rate
// selection RS3-RS0.
const (
	aUIP      = 0x80
	aDVMask   = 0x70
	aDV32kHz  = 0x20 // DV = 010: 32.768 kHz time base, clock running
	aRSMask   = 0x0F
	resetRegA = 0x26 // what a PC BIOS leaves: 32.768 kHz, 1024 Hz periodic rate
)

// Register B bits.
const (
	bSET   = 0x80 // inhibit updates while the time is set
	bPIE   = 0x40 // periodic interrupt enable
	bAIE   = 0x20 // alarm interrupt enable
	bUIE   = 0x10 // update-ended interrupt enable
	bSQWE  = 0x08 // square-wave enable (stored; there is no pin to drive)
	bDM    = 0x04 // data mode: 1 = binary, 0 = BCD
	b24H   = 0x02 // 1 = 24-hour mode, 0 = 12-hour with hour bit 7 = PM
	bDSE   = 0x01 // daylight saving enable (stored, ignored: UTC)
	hourPM = 0x80

	// resetRegB is register B as a PC BIOS leaves it: 24-hour, BCD.
	resetRegB = b24H
)

// Register C bits. PF, AF and UF sit at the same positions as their enable
// bits PIE, AIE and UIE in register B; bits 0-3 read 0.
const (
	cIRQF = 0x80
	cPF   = 0x40
	cAF   = 0x20
	cUF   = 0x10
)

// alarmDontCare marks an alarm byte that matches any value ("Interrupts":
// codes 0xC0-0xFF).
const alarmDontCare = 0xC0

// dVRT is register D's valid-RAM-and-time bit; the rest of D reads 0.
const dVRT = 0x80

// uipWindow is how long before each second boundary UIP reads 1:
// t_BUC (244 µs) + t_UC (1984 µs at 32.768 kHz), "Update Cycle".
const uipWindow = (244 + 1984) * time.Microsecond

// firstUpdate is the delay from releasing the divider reset to the first
// update (Register A, DV2-DV0).
const firstUpdate = 500 * time.Millisecond

// IRQLine is the clock's interrupt output. SetLevel is called only when the
// level changes, with the RTC's lock held: it must not call back into the
// RTC.
type IRQLine interface {
	SetLevel(high bool)
}

// RTC is the CMOS clock and its 128 bytes. Its methods are safe for
// concurrent use.
type RTC struct {
	mu    sync.Mutex
	clock func() time.Time
	irq   IRQLine // nil: no interrupts and no timer

	index  byte // bits 0-6 of the last index-port write
	nmiOff bool // bit 7 of the last index-port write

	// ram holds the 128 bytes. The time bytes (0x00, 0x02, 0x04, 0x06-0x09
	// and the century) are meaningful only while the clock is stopped;
	// while it runs they are computed from the clock. ram[regA] never has
	// UIP set; ram[regC] and ram[regD] are unused.
	ram [128]byte

	// The guest's time is base + (host now - hostRef), with both host
	// readings stripped of their monotonic part so the guest follows the
	// host's wall clock. The same formula gives the divider's phase while
	// the clock is stopped by SET.
	base, hostRef time.Time

	// flags holds register C's PF, AF and UF for the events up to host
	// time checked.
	flags   byte
	checked time.Time
	// level is the interrupt line's level.
	level bool
	// wake arms the timer to call tick d from now; timer is that timer.
	wake    func(d time.Duration)
	timer   *time.Timer
	stopped bool
}

// New returns the clock in its power-on state, set to clock's time, with
// register A at 0x26 and B at 0x02 (24-hour, BCD) as a PC BIOS leaves them.
// irq, if not nil, is driven from register C's IRQF; Close stops the timer
// that needs.
func New(clock func() time.Time, irq IRQLine) *RTC {
	now := clock().Round(0).UTC()
	r := &RTC{clock: clock, irq: irq, base: now, hostRef: now, checked: now}
	r.ram[regA] = resetRegA
	r.ram[regB] = resetRegB
	r.wake = func(d time.Duration) {
		if r.timer == nil {
			r.timer = time.AfterFunc(d, r.tick)
			return
		}
		r.timer.Reset(d)
	}
	return r
}

// Close stops the interrupt timer for good; the line is not driven after
// it returns. The ports keep working.
func (r *RTC) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
	return nil
}

// NMIDisabled reports bit 7 of the last byte written to the index port, the
// PC's NMI mask. govmm has no NMI source, so nothing acts on it.
func (r *RTC) NMIDisabled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nmiOff
}

// Read handles a read of len(data) bytes at offset: each byte is one ISA
// cycle, offset 0 the index port (write-only: 0xFF) and offset 1 the data
// port; anything beyond reads 0xFF.
func (r *RTC) Read(offset uint64, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range data {
		data[i] = 0xff
		if offset+uint64(i) == 1 {
			h := r.host()
			r.account(h)
			data[i] = r.readReg(r.index, h)
			r.settle(h)
		}
	}
}

// Write handles a write of len(data) bytes at offset, one ISA cycle per
// byte: offset 0 sets the index and the NMI bit, offset 1 writes the
// selected byte. A 16-bit write at offset 0 does both, in that order.
func (r *RTC) Write(offset uint64, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, v := range data {
		switch offset + uint64(i) {
		case 0:
			r.index = v & 0x7f
			r.nmiOff = v&0x80 != 0
		case 1:
			h := r.host()
			r.account(h)
			r.writeReg(r.index, v, h)
			r.settle(h)
		}
	}
}

// tick is the timer's callback.
func (r *RTC) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	h := r.host()
	r.account(h)
	r.settle(h)
}

// isClockByte reports whether i is one of the bytes the update cycle
// advances.
func isClockByte(i byte) bool {
	switch i {
	case regSeconds, regMinutes, regHours, regDayOfWeek, regDayOfMonth, regMonth, regYear, regCentury:
		return true
	}
	return false
}

// dividerRuns reports whether register A selects the 32.768 kHz time base.
func (r *RTC) dividerRuns() bool { return r.ram[regA]&aDVMask == aDV32kHz }

// running reports whether the clock advances: SET clear and the divider at
// the 32.768 kHz time base.
func (r *RTC) running() bool { return r.ram[regB]&bSET == 0 && r.dividerRuns() }

// host reads the host clock as wall time in UTC.
func (r *RTC) host() time.Time { return r.clock().Round(0).UTC() }

// guestAt is the guest's time at host time h.
func (r *RTC) guestAt(h time.Time) time.Time { return r.base.Add(h.Sub(r.hostRef)) }

// periodicHz is the periodic rate register A selects with a 32.768 kHz
// time base ("Register A", RS3-RS0), 0 for none.
func periodicHz(a byte) int64 {
	switch rs := a & aRSMask; rs {
	case 0:
		return 0
	case 1:
		return 256
	case 2:
		return 128
	default:
		return 65536 >> rs
	}
}

// account sets the flags for the events between the last call and host
// time h, under the state that held in between: every access calls it
// before changing anything.
func (r *RTC) account(h time.Time) {
	from := r.checked
	r.checked = h
	if !h.After(from) || !r.dividerRuns() {
		return
	}
	g0, g1 := r.guestAt(from), r.guestAt(h)
	if f := periodicHz(r.ram[regA]); f != 0 && r.flags&cPF == 0 {
		if g1.Sub(g0) >= time.Second || g0.Unix() != g1.Unix() ||
			int64(g0.Nanosecond())*f/1e9 != int64(g1.Nanosecond())*f/1e9 {
			r.flags |= cPF
		}
	}
	if r.ram[regB]&bSET != 0 {
		return // SET: no updates
	}
	s0, s1 := g0.Unix(), g1.Unix()
	if s1 == s0 {
		return
	}
	r.flags |= cUF
	// AF: did any update (to the times s0+1 .. s1) match the alarm? A day
	// covers every hour, minute and second the alarm bytes can name.
	for s := max(s0+1, s1-86400+1); s <= s1 && r.flags&cAF == 0; s++ {
		if r.alarmMatches(time.Unix(s, 0).UTC()) {
			r.flags |= cAF
		}
	}
}

// alarmMatches compares t with the alarm bytes, in register B's format.
func (r *RTC) alarmMatches(t time.Time) bool {
	for _, p := range [...][2]byte{{regSecAlarm, regSeconds}, {regMinAlarm, regMinutes}, {regHourAlarm, regHours}} {
		a := r.ram[p[0]]
		if a&alarmDontCare != alarmDontCare && a != r.encode(t, p[1]) {
			return false
		}
	}
	return true
}

// irqf reports register C's IRQF: a flag set together with its enable bit.
func (r *RTC) irqf() bool { return r.flags&r.ram[regB]&(cPF|cAF|cUF) != 0 }

// settle drives the interrupt line from IRQF and, while it is low, arms
// the timer for the next event that could raise it.
func (r *RTC) settle(h time.Time) {
	if r.irq == nil || r.stopped {
		return
	}
	if l := r.irqf(); l != r.level {
		r.level = l
		r.irq.SetLevel(l)
	}
	if r.level || !r.dividerRuns() {
		return
	}
	b, g := r.ram[regB], r.guestAt(h)
	ns := int64(g.Nanosecond())
	next := int64(-1)
	if b&(bUIE|bAIE) != 0 && b&bSET == 0 {
		next = 1e9 - ns // the next update
	}
	if f := periodicHz(r.ram[regA]); b&bPIE != 0 && f != 0 {
		k := ns*f/1e9 + 1 // the next periodic tick is at k/f s
		if d := (k*1e9+f-1)/f - ns; next < 0 || d < next {
			next = d
		}
	}
	if next >= 0 {
		r.wake(time.Duration(next))
	}
}

func (r *RTC) readReg(i byte, h time.Time) byte {
	switch {
	case isClockByte(i):
		if r.running() {
			return r.encode(r.guestAt(h), i)
		}
		return r.ram[i]
	case i == regA:
		a := r.ram[regA]
		if r.running() && r.guestAt(h).Nanosecond() >= int(time.Second-uipWindow) {
			a |= aUIP
		}
		return a
	case i == regC:
		c := r.flags
		if r.irqf() {
			c |= cIRQF
		}
		r.flags = 0 // "Register C": all flags clear when C is read
		return c
	case i == regD:
		return dVRT
	}
	return r.ram[i]
}

func (r *RTC) writeReg(i byte, v byte, h time.Time) {
	switch {
	case isClockByte(i):
		if !r.running() {
			r.ram[i] = v // held while stopped; decoded when the clock restarts
			return
		}
		g := r.guestAt(h)
		r.snapshot(g)
		r.ram[i] = v
		r.base = r.decode().Add(time.Duration(g.Nanosecond()))
		r.hostRef = h
	case i == regA:
		was := r.running()
		released := !r.dividerRuns() && v&aDVMask == aDV32kHz
		r.ram[regA] = v &^ aUIP // UIP is read-only
		if released {
			// The divider restarts: the first update is half a second away.
			r.base = r.guestAt(h).Truncate(time.Second).Add(firstUpdate)
			r.hostRef = h
		}
		r.transition(was, h)
	case i == regB:
		was := r.running()
		if v&bSET != 0 {
			v &^= bUIE // "Register B": SET = 1 clears UIE
		}
		r.ram[regB] = v
		r.transition(was, h)
	case i == regC || i == regD:
		// read-only
	default:
		r.ram[i] = v // alarm bytes and NVRAM
	}
}

// transition stops or restarts the clock after a write to A or B.
func (r *RTC) transition(wasRunning bool, h time.Time) {
	switch now := r.running(); {
	case wasRunning && !now:
		r.snapshot(r.guestAt(h))
	case !wasRunning && now:
		phase := time.Duration(r.guestAt(h).Nanosecond())
		r.base = r.decode().Add(phase)
		r.hostRef = h
	}
}

// snapshot stores t into the clock bytes of ram.
func (r *RTC) snapshot(t time.Time) {
	for _, i := range []byte{regSeconds, regMinutes, regHours, regDayOfWeek, regDayOfMonth, regMonth, regYear, regCentury} {
		r.ram[i] = r.encode(t, i)
	}
}

// encode returns clock byte i of t in register B's format ("Time,
// Calendar, and Alarm Locations", data modes).
func (r *RTC) encode(t time.Time, i byte) byte {
	b := r.ram[regB]
	enc := func(n int) byte {
		n = ((n % 100) + 100) % 100
		if b&bDM != 0 {
			return byte(n)
		}
		return byte(n/10<<4 | n%10)
	}
	switch i {
	case regSeconds:
		return enc(t.Second())
	case regMinutes:
		return enc(t.Minute())
	case regHours:
		h := t.Hour()
		if b&b24H != 0 {
			return enc(h)
		}
		pm := byte(0)
		if h >= 12 {
			pm = hourPM
		}
		if h %= 12; h == 0 {
			h = 12
		}
		return enc(h) | pm
	case regDayOfWeek:
		return enc(int(t.Weekday()) + 1) // 1 = Sunday
	case regDayOfMonth:
		return enc(t.Day())
	case regMonth:
		return enc(int(t.Month()))
	case regYear:
		return enc(t.Year())
	case regCentury:
		return enc(t.Year() / 100)
	}
	return 0
}

// decode reads the time out of the clock bytes in ram, in register B's
// format. The day of the week is not used: the date determines it.
func (r *RTC) decode() time.Time {
	b := r.ram[regB]
	dec := func(v byte) int {
		if b&bDM != 0 {
			return int(v)
		}
		return int(v>>4)*10 + int(v&0x0f)
	}
	hv := r.ram[regHours]
	var hour int
	if b&b24H != 0 {
		hour = dec(hv)
	} else {
		hour = dec(hv&^hourPM) % 12
		if hv&hourPM != 0 {
			hour += 12
		}
	}
	year := dec(r.ram[regCentury])*100 + dec(r.ram[regYear])
	return time.Date(year, time.Month(dec(r.ram[regMonth])), dec(r.ram[regDayOfMonth]),
		hour, dec(r.ram[regMinutes]), dec(r.ram[regSeconds]), 0, time.UTC)
}
