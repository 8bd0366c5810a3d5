//go:build kvm

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/kvmtest"
)

// bootLimit bounds one kernel boot on an emulated-ring-0 host (about 80 s to
// /init on an idle machine, more when two boots share the two cores).
const bootLimit = 10 * time.Minute

// The markers of a good boot, in the order the kernel prints them.
var bootMarkers = []string{"Linux version", "Unpacking initramfs", "Run /init as init process"}

const (
	helloLine    = "govmm-guest: hello from user space"
	segfaultLine = "init[1]: segfault at"
)

// userSpaceProof says which proof that /init ran appears in out: the hello
// line (a host where user space can make system calls) or the segfault of
// its first system call (an emulated-ring-0 host, see README Host notes).
func userSpaceProof(out string) string {
	switch {
	case strings.Contains(out, helloLine):
		return "hello"
	case strings.Contains(out, segfaultLine):
		return "segfault"
	}
	return ""
}

// checkUserSpace fails t unless out and code show the /init ran as host h
// allows: where user space works (hardware virtualization), the hello line
// and exit 0 (init powers the machine off through ACPI S5); a segfault
// there is a failure.
// Only on an emulated-ring-0 host is the segfault of the first system call
// the proof, with exit 3 (pvpanic: the kernel panics when init dies).
func checkUserSpace(t *testing.T, h kvmtest.Host, r *run) string {
	t.Helper()
	proof := userSpaceProof(r.out)
	want, wantCode := "segfault", 3
	if h.UserSpaceWorks() {
		want, wantCode = "hello", 0
	}
	line := map[string]string{"hello": helloLine, "segfault": segfaultLine}[want]
	if _, ok := inOrder(r.out, "Run /init as init process", line); proof != want || !ok || r.code != wantCode {
		t.Fatalf("%s: want the %s proof after Run /init and exit %d; got proof %q, exit %d\nconsole tail:\n%s\nstderr:\n%s",
			h, want, wantCode, proof, r.code, tail(r.out, 40), r.stderr)
	}
	return proof
}

// testBoot boots kernel with the test initramfs and checks the console and
// the exit code (checkUserSpace).
func testBoot(t *testing.T, kernel string) {
	h := requireKernel(t)
	t.Parallel()
	r := govmm(t, bootLimit, append(bootMarkers, helloLine, segfaultLine),
		"run", "-kernel", kernel, "-initrd", paths.initramfs, "-m", "256M",
		"-append", "console=ttyS0 panic=-1", "-stats")
	if m, ok := inOrder(r.out, bootMarkers...); !ok {
		t.Fatalf("console lacks %q in order (exit %d)\nconsole tail:\n%s\nstderr:\n%s", m, r.code, tail(r.out, 40), r.stderr)
	}
	proof := checkUserSpace(t, h, r)
	// The power-off went through the ACPI sleep control register: the
	// -stats device table lists the acpi-pm ports.
	if proof == "hello" && !strings.Contains(r.stderr, "acpi-pm") {
		t.Fatalf("exit 0, but the acpi-pm ports were never written (not an ACPI power-off)\nstderr:\n%s", r.stderr)
	}
	t.Logf("user-space proof: %s; Run /init after %v; exit %d after %v",
		proof, r.firstAt["Run /init as init process"].Round(time.Millisecond), r.code, r.elapsed.Round(time.Millisecond))
	t.Logf("govmm -stats:\n%s", r.stderr)
}

func TestBootBzImage(t *testing.T) { testBoot(t, paths.bzImage) }

func TestBootPVH(t *testing.T) { testBoot(t, paths.vmlinux) }

// TestBootACPIOff boots with -acpi=off: no ACPI tables, so the kernel finds
// its CPUs, IOAPIC and PCI devices through the MP table alone, and has no
// way to power off. Where user space works, /init's power-off becomes
// "reboot: System halted", a halt with interrupts disabled: exit 4. On an
// emulated-ring-0 host the proof is the segfault, with exit 3.
func TestBootACPIOff(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	r := govmm(t, bootLimit, append(bootMarkers, helloLine, segfaultLine),
		"run", "-kernel", paths.vmlinux, "-initrd", paths.initramfs, "-acpi=off",
		"-append", "console=ttyS0 panic=-1")
	if m, ok := inOrder(r.out, bootMarkers...); !ok {
		t.Fatalf("console lacks %q in order (exit %d)\nconsole tail:\n%s\nstderr:\n%s", m, r.code, tail(r.out, 40), r.stderr)
	}
	if strings.Contains(r.out, "ACPI: RSDP") {
		t.Fatalf("-acpi=off, but the kernel found an RSDP\nconsole tail:\n%s", tail(r.out, 40))
	}
	want, wantCode, line := "segfault", 3, segfaultLine
	if h.UserSpaceWorks() {
		want, wantCode, line = "hello", 4, "reboot: System halted"
	}
	if _, ok := inOrder(r.out, "Run /init as init process", line); userSpaceProof(r.out) != want || !ok || r.code != wantCode {
		t.Fatalf("%s: want the %s proof, %q and exit %d; got exit %d\nconsole tail:\n%s\nstderr:\n%s",
			h, want, line, wantCode, r.code, tail(r.out, 40), r.stderr)
	}
	t.Logf("-acpi=off: proof %s, exit %d after %v", want, r.code, r.elapsed.Round(time.Millisecond))
}

// TestCompatOff: where ring 0 is emulated, the kernel cannot run without
// the compatibility layer, and govmm must say where it stopped and exit 4,
// not hang. Where ring 0 runs in hardware, -compat off changes nothing and
// the boot must reach user space.
func TestCompatOff(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	r := govmm(t, bootLimit, nil, "run", "-kernel", paths.bzImage, "-initrd", paths.initramfs,
		"-append", "console=ttyS0 panic=-1", "-compat", "off")
	if h.UserSpaceWorks() {
		checkUserSpace(t, h, r)
		t.Logf("-compat off on a hardware host: booted to user space, exit %d after %v", r.code, r.elapsed.Round(time.Millisecond))
		return
	}
	if r.code != 4 {
		t.Fatalf("exit %d, want 4\nstderr:\n%s\nconsole tail:\n%s", r.code, r.stderr, tail(r.out, 20))
	}
	for _, want := range []string{"RIP=", "code at RIP:", "instruction:"} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	t.Logf("-compat off stopped after %v:\n%s", r.elapsed.Round(time.Millisecond), r.stderr)
}

// TestKernelTimeout: -timeout 5s on a kernel that never ends exits 124
// within about 6 s. With no initramfs and root=/dev/vdb rootwait, the kernel
// waits forever for a disk that never comes: a guest that is still running
// at the deadline on every host, however fast it boots.
func TestKernelTimeout(t *testing.T) {
	requireKernel(t)
	start := time.Now()
	r := govmm(t, time.Minute, nil, "run", "-kernel", paths.bzImage, "-rng=false",
		"-append", "console=ttyS0 root=/dev/vdb rootwait", "-timeout", "5s")
	d := time.Since(start)
	if r.code != 124 {
		t.Fatalf("exit %d, want 124\n%s", r.code, r.stderr)
	}
	if d > 6500*time.Millisecond {
		t.Fatalf("-timeout 5s took %v", d)
	}
	t.Logf("-timeout 5s exited 124 after %v", d.Round(time.Millisecond))
}
