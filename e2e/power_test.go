//go:build kvm

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The lines testdata/init/init.c writes after the hello line.
const (
	realtimeLine = "govmm-guest: realtime "
	firstBoot    = "govmm-guest: first boot, rebooting"
	secondBoot   = "govmm-guest: second boot"
)

// TestRebootExits0: /init asks the kernel to reboot (`-- reboot` on the
// command line reaches /init as its argument). Linux resets through the
// FADT's reset register, and with the default -reboot exit govmm ends the
// run with exit 0. Where user space cannot run, the segfault proof stands
// in (the reboot path is then proven by the nested host's run).
func TestRebootExits0(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	r := govmm(t, bootLimit, []string{helloLine, segfaultLine},
		"run", "-kernel", paths.bzImage, "-initrd", paths.initramfs,
		"-append", "console=ttyS0 panic=-1 -- reboot", "-v")
	checkUserSpace(t, h, r)
	if h.UserSpaceWorks() && !strings.Contains(r.stderr, "guest reset (ACPI reset register) (exit 0)") {
		t.Fatalf("exit 0, but not through the ACPI reset register\nstderr tail:\n%s", tail(r.stderr, 20))
	}
	t.Logf("reboot: exit %d after %v", r.code, r.elapsed.Round(time.Millisecond))
}

// TestRebootRestartBootsTwice: with -reboot restart a guest reset boots
// the machine again. /init's reboot-once mode keeps a mark on /dev/vda (a
// real file, which outlives the first machine): the first boot writes it
// and reboots, the second sees it and powers off, so govmm exits 0 after
// exactly two boots, with the sandbox on (it then also allows building a
// new VM: sandbox.Restart).
func TestRebootRestartBootsTwice(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	disk := filepath.Join(t.TempDir(), "mark.img")
	if err := os.WriteFile(disk, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	r := govmm(t, 2*bootLimit, []string{helloLine, segfaultLine},
		"run", "-kernel", paths.bzImage, "-initrd", paths.initramfs, "-disk", disk,
		"-reboot", "restart", "-append", "console=ttyS0 panic=-1 -- reboot-once")
	if !h.UserSpaceWorks() {
		checkUserSpace(t, h, r)
		return
	}
	if n := strings.Count(r.out, "Linux version"); n != 2 || r.code != 0 {
		t.Fatalf("%d boots and exit %d, want 2 boots and exit 0\nconsole tail:\n%s\nstderr:\n%s", n, r.code, tail(r.out, 40), r.stderr)
	}
	if _, ok := inOrder(r.out, helloLine, firstBoot, "Linux version", helloLine, secondBoot); !ok {
		t.Fatalf("console lacks the two boots in order\nconsole tail:\n%s", tail(r.out, 60))
	}
	if !strings.Contains(r.stderr, "booting again (-reboot restart, boot 2)") {
		t.Fatalf("govmm did not say it restarted the guest\nstderr:\n%s", r.stderr)
	}
	mark, err := os.ReadFile(disk)
	if err != nil || mark[0] != 'R' {
		t.Fatalf("the first boot's mark is not on the disk: %q, %v", mark[:1], err)
	}
	t.Logf("-reboot restart: two boots, exit 0 after %v", r.elapsed.Round(time.Millisecond))
}

// hctosysLine is what Linux's RTC_HCTOSYS prints when it sets the system
// time from the CMOS RTC (drivers/rtc/class.c, rtc_hctosys), ending with
// the seconds since the epoch in parentheses.
const hctosysLine = "setting system clock to "

// TestGuestClockMatchesHost: the guest's date at boot is the host's. The
// test kernel's rtc-cmos driver reads govmm's CMOS RTC late in boot and
// sets the system clock from it (RTC_HCTOSYS), which it reports on the
// console; that must be within 2 s of the host's clock when the line
// arrived (the figure is truncated to the second). This needs no guest
// user space, so it holds on every host kind. Where user space runs, /init
// prints CLOCK_REALTIME too, which must also be within 2 s.
func TestGuestClockMatchesHost(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	r := govmm(t, bootLimit, []string{helloLine, segfaultLine, realtimeLine, hctosysLine},
		"run", "-kernel", paths.bzImage, "-initrd", paths.initramfs,
		"-append", "console=ttyS0 panic=-1")
	checkUserSpace(t, h, r)
	// "rtc_cmos rtc_cmos: setting system clock to 2026-11-30T10:03:09 UTC (1796032989)"
	line := lineWith(r.out, hctosysLine)
	_, secs, _ := strings.Cut(line, "(")
	secs, _, _ = strings.Cut(secs, ")")
	checkClock(t, "the kernel's RTC read", secs, r.started.Add(r.firstAt[hctosysLine]), line)
	if h.UserSpaceWorks() {
		line := lineWith(r.out, realtimeLine)
		checkClock(t, "/init's CLOCK_REALTIME", strings.TrimPrefix(line, realtimeLine),
			r.started.Add(r.firstAt[realtimeLine]), line)
	}
}

// lineWith returns the first console line that contains s, from s on.
func lineWith(out, s string) string {
	i := strings.Index(out, s)
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(out[i:], "\n")
	return line
}

// checkClock fails t unless secs (decimal seconds since the epoch) is
// within 2 s of host.
func checkClock(t *testing.T, what, secs string, host time.Time, line string) {
	t.Helper()
	sec, err := strconv.ParseInt(strings.TrimSpace(secs), 10, 64)
	if err != nil {
		t.Fatalf("%s: no time in %q: %v", what, line, err)
	}
	guest := time.Unix(sec, 0)
	if d := host.Sub(guest); d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("%s: %v, host %v when the line arrived: %v apart, want within 2 s", what, guest.UTC(), host.UTC(), d)
	}
	t.Logf("%s: %v, host %v (%v apart)", what, guest.UTC(), host.UTC().Round(time.Millisecond), host.Sub(guest).Round(time.Millisecond))
}
