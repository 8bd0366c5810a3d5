//go:build kvm

package e2e

// Debian's stock kernel: linux-image-cloud-amd64, as Debian ships it,
// booted to a busybox /init that prints a line and powers off or reboots
// (issue 12). scripts/fetch-stock-kernel.sh downloads the kernel and
// busybox-static with apt-get download and caches them; make kvmtests passes
// the cache directory in GOVMM_STOCK_DIR, and run alone the tests call the
// script themselves.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/kvmtest"
)

const (
	stockHello = "govmm-stock: hello"
	// stockTimeout is govmm's -timeout for one stock boot. The hello line
	// came after 21 to 53 s on the nested test host (2026-11-30, two boots
	// sharing its two vCPUs on a loaded machine).
	stockTimeout = 3 * time.Minute
)

// stockMarkers are the lines of a stock boot, in order, up to /init.
var stockMarkers = []string{"Linux version", "Run /init as init process", stockHello}

// stockWatch are the lines whose arrival time a stock boot records.
var stockWatch = append([]string{hctosysLine}, stockMarkers...)

var stock struct {
	once sync.Once
	dir  string
	err  error
}

// requireStock fails (never skips) unless the host can boot Debian's kernel
// to user space and the kernel and busybox are there, and returns the
// host and the stock directory.
//
// The stock tests run only where guest ring 0 runs in hardware. On an
// emulated-ring-0 (PVM) host Debian's kernel is far too slow to be a test:
// in 10 minutes there it printed nothing, not even "Linux version"
// (measured 2026-11-30; docs/HOST-KVM.md: about 15 minutes to "Run /init"),
// and its user space could not make a system call anyway. So testhosts runs these
// tests (marked //testhosts:hardware-only) on the nested test host only,
// where they take about 20 s each. Run by hand on a PVM host, they fail
// with this explanation instead of skipping, so that no run that was meant
// to check them passes without having done so.
func requireStock(t *testing.T) (kvmtest.Host, string) {
	t.Helper()
	h := kvmtest.Require(t)
	if !h.UserSpaceWorks() {
		t.Fatalf("%s: Debian's stock kernel needs a host where guest ring 0 runs in hardware: here it printed nothing in 10 minutes (about 15 to reach /init: docs/HOST-KVM.md), and /init cannot make a system call. Run it on the nested test host (make kvmtests does: testhosts runs //testhosts:hardware-only tests there only)", h)
	}
	stock.once.Do(func() {
		stock.dir = os.Getenv("GOVMM_STOCK_DIR")
		if stock.dir != "" {
			return
		}
		cmd := exec.Command(filepath.Join(repoRoot(), "scripts/fetch-stock-kernel.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			stock.err = fmt.Errorf("scripts/fetch-stock-kernel.sh: %v", err)
			return
		}
		stock.dir = strings.TrimSpace(string(out))
	})
	if stock.err != nil {
		t.Fatalf("Debian's stock kernel: %v", stock.err)
	}
	for _, f := range []string{"vmlinuz", "busybox"} {
		if _, err := os.Stat(filepath.Join(stock.dir, f)); err != nil {
			t.Fatalf("stock kernel directory incomplete (%v): run scripts/fetch-stock-kernel.sh", err)
		}
	}
	return h, stock.dir
}

// stockInitramfs builds, with govmm's own initramfs builder, an archive
// holding bin/busybox and an /init script that prints the hello line and
// then runs `busybox <action> -f` (poweroff or reboot: the reboot system
// call at once, without an init system).
func stockInitramfs(t *testing.T, dir, action string) string {
	t.Helper()
	tmp := t.TempDir()
	init := filepath.Join(tmp, "init")
	script := "#!/bin/busybox sh\n/bin/busybox echo " + stockHello + "\n/bin/busybox " + action + " -f\n"
	if err := os.WriteFile(init, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cpio := filepath.Join(tmp, "stock-"+action+".cpio")
	out, err := exec.Command(paths.bin, "initramfs", "-o", cpio, "-init", init,
		"bin/busybox="+filepath.Join(dir, "busybox")).CombinedOutput()
	if err != nil {
		t.Fatalf("govmm initramfs: %v\n%s", err, out)
	}
	return cpio
}

// stockBoot boots the stock kernel with an /init that runs action, with
// -v (govmm names how the guest ended) and -stats, plus extra flags, and
// checks that the console reaches the hello line after Run /init.
func stockBoot(t *testing.T, action string, extra ...string) *run {
	t.Helper()
	h, dir := requireStock(t)
	t.Parallel()
	cpio := stockInitramfs(t, dir, action)
	args := append([]string{"run", "-kernel", filepath.Join(dir, "vmlinuz"), "-initrd", cpio,
		"-m", "512M", "-append", "console=ttyS0 panic=-1", "-timeout", stockTimeout.String(), "-v", "-stats"}, extra...)
	r := govmm(t, stockTimeout+time.Minute, stockWatch, args...)
	if m, ok := inOrder(r.out, stockMarkers...); !ok {
		t.Fatalf("%s: console lacks %q in order (exit %d)\nconsole tail:\n%s\nstderr:\n%s", h, m, r.code, tail(r.out, 40), r.stderr)
	}
	// panic=-1 turns a panic (init dying) into a reset: exit 0, like the
	// reboot under test. The console tells them apart.
	if strings.Contains(r.out, "Kernel panic") {
		t.Fatalf("the stock kernel panicked (exit %d)\nconsole tail:\n%s", r.code, tail(r.out, 40))
	}
	t.Logf("Run /init after %v, hello after %v; exit %d after %v",
		r.firstAt["Run /init as init process"].Round(time.Millisecond), r.firstAt[stockHello].Round(time.Millisecond),
		r.code, r.elapsed.Round(time.Millisecond))
	return r
}

// stockEnd checks govmm's exit code and the -v line that says how the guest
// ended, and that the kernel printed line after the hello line.
func stockEnd(t *testing.T, r *run, wantCode int, line, reason string) {
	t.Helper()
	if _, ok := inOrder(r.out, stockHello, line); !ok || r.code != wantCode || !strings.Contains(r.stderr, "govmm: "+reason) {
		t.Fatalf("want %q on the console after the hello line, exit %d and govmm's %q; got exit %d\nconsole tail:\n%s\nstderr:\n%s",
			line, wantCode, reason, r.code, tail(r.out, 20), r.stderr)
	}
	t.Logf("govmm -v -stats:\n%s", r.stderr)
}

// TestStockKernelPowerOff: `poweroff -f` in Debian's kernel goes through
// ACPI S5 (the sleep control register): govmm says the guest powered off
// and exits 0. On the way, Debian's rtc-cmos driver sets the system clock
// from govmm's CMOS RTC (RTC_HCTOSYS): within 2 s of the host's clock.
//
//testhosts:hardware-only
func TestStockKernelPowerOff(t *testing.T) {
	r := stockBoot(t, "poweroff")
	stockEnd(t, r, 0, "reboot: Power down", "guest powered off (ACPI S5)")
	line := lineWith(r.out, hctosysLine)
	_, secs, _ := strings.Cut(line, "(")
	secs, _, _ = strings.Cut(secs, ")")
	checkClock(t, "Debian's rtc-cmos read", secs, r.started.Add(r.firstAt[hctosysLine]), line)
	if !strings.Contains(r.stderr, "acpi-pm") {
		t.Fatalf("exit 0, but the acpi-pm ports were never written (not an ACPI power-off)\nstderr:\n%s", r.stderr)
	}
}

// TestStockKernelReboot: `reboot -f` resets the machine (the ACPI reset
// register, or the i8042 reset line if the kernel picks that), and with
// the default -reboot exit govmm exits 0.
//
//testhosts:hardware-only
func TestStockKernelReboot(t *testing.T) {
	r := stockBoot(t, "reboot")
	// Linux picks BOOT_EFI when the FADT says HW_REDUCED_ACPI and the
	// kernel has CONFIG_EFI (Debian's has); without EFI that falls back to
	// a real-mode BIOS restart at f000:fff0, where govmm's reset stub
	// pulses the i8042 reset line (machine/load.go). Before the stub, this
	// hung after "reboot: machine restart" (seen 2026-11-30).
	stockEnd(t, r, 0, "reboot: Restarting system", "guest reset (")
}

// TestStockKernelACPIOff boots with govmm -acpi=off: no ACPI tables, so
// Debian's kernel finds its CPUs, IOAPIC and PCI bus through the MP table
// alone, and reaches /init. It then has no way to power off: `poweroff -f`
// becomes "reboot: System halted", a halt with interrupts off: exit 4, by
// design.
//
//testhosts:hardware-only
func TestStockKernelACPIOff(t *testing.T) {
	r := stockBoot(t, "poweroff", "-acpi=off")
	if strings.Contains(r.out, "ACPI: RSDP") {
		t.Fatalf("-acpi=off, but the kernel found an RSDP\nconsole tail:\n%s", tail(r.out, 40))
	}
	stockEnd(t, r, 4, "reboot: System halted", "guest halted with interrupts disabled")
}
