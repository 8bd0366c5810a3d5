//go:build kvm

package machine

import (
	"testing"
	"time"
)

// rtcTimeRegs are the MC146818 time and date registers the guest reads, in
// this order ("Address Map"), then the PC's century byte at 0x32.
var rtcTimeRegs = []byte{0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32}

// rtcReadGuest returns a CPL-3 guest that waits for register A's UIP bit to
// clear, reads rtcTimeRegs through ports 0x70/0x71 and writes each byte to
// COM1's transmit register, does all that twice (one of the two sets is
// whole even if a second ticks during the other), then powers off through
// the ACPI sleep control register.
func rtcReadGuest() []byte {
	var g []byte
	for range 2 {
		g = append(g,
			0xb0, 0x0a, // 1: mov al, 0x0a (register A)
			0xe6, 0x70, // out 0x70, al
			0xe4, 0x71, // in al, 0x71
			0xa8, 0x80, // test al, 0x80 (UIP)
			0x75, 0xf6, // jnz 1b
		)
		for _, r := range rtcTimeRegs {
			g = append(g,
				0xb0, r, // mov al, r
				0xe6, 0x70, // out 0x70, al
				0xe4, 0x71, // in al, 0x71
				0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8
				0xee, // out dx, al
			)
		}
	}
	return append(g, acpiPMGuest(acpiPMPort, 5<<2|1<<5)...)
}

// bcd decodes a packed-BCD byte (register B's DM bit is 0 after reset, so
// the time bytes are BCD; hours are 24-hour: B's 24/12 bit is 1).
func bcd(b byte) int { return int(b>>4)*10 + int(b&0x0f) }

// TestRTCReportsHostTime: a guest reading the CMOS clock through its ports
// sees the host's UTC time, within 2 s (the wall clock a kernel without
// kvm-clock sets itself from at boot).
func TestRTCReportsHostTime(t *testing.T) {
	res, out, _ := runRaw(t, rtcReadGuest(), RawUser, 10*time.Second)
	now := time.Now().UTC()
	if res.Code != ExitOK || len(out) != 2*len(rtcTimeRegs) {
		t.Fatalf("%v; read %d bytes %x, want exit 0 and %d bytes", res, len(out), out, 2*len(rtcTimeRegs))
	}
	var best time.Duration = 1 << 62
	var times []time.Time
	for set := range 2 {
		b := []byte(out[set*len(rtcTimeRegs):])
		guest := time.Date(bcd(b[6])*100+bcd(b[5]), time.Month(bcd(b[4])), bcd(b[3]),
			bcd(b[2]), bcd(b[1]), bcd(b[0]), 0, time.UTC)
		times = append(times, guest)
		d := now.Sub(guest)
		best = min(best, max(d, -d))
	}
	if best > 2*time.Second {
		t.Fatalf("RTC says %v, host %v: want within 2 s", times, now)
	}
	t.Logf("RTC %v, host %v", times, now.Round(time.Millisecond))
}
