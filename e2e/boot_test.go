package e2e

import (
	"strings"
	"testing"
	"time"
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

// testBoot boots kernel with the test initramfs and checks the console and
// the exit code: 0 after the hello line (init restarts the machine), or 3
// (pvpanic) after the segfault, when the kernel panics because init died.
func testBoot(t *testing.T, kernel string) {
	requireKernel(t)
	t.Parallel()
	r := govmm(t, bootLimit, append(bootMarkers, helloLine, segfaultLine),
		"run", "-kernel", kernel, "-initrd", paths.initramfs, "-m", "256M",
		"-append", "console=ttyS0 panic=-1", "-stats")
	if m, ok := inOrder(r.out, bootMarkers...); !ok {
		t.Fatalf("console lacks %q in order (exit %d)\nconsole tail:\n%s\nstderr:\n%s", m, r.code, tail(r.out, 40), r.stderr)
	}
	proof := userSpaceProof(r.out)
	if _, ok := inOrder(r.out, "Run /init as init process", map[string]string{"hello": helloLine, "segfault": segfaultLine}[proof]); proof == "" || !ok {
		t.Fatalf("no user-space proof after Run /init (exit %d)\nconsole tail:\n%s\nstderr:\n%s", r.code, tail(r.out, 40), r.stderr)
	}
	want := map[string]int{"hello": 0, "segfault": 3}[proof]
	if r.code != want {
		t.Fatalf("/init proof %q, exit %d, want %d\nconsole tail:\n%s\nstderr:\n%s", proof, r.code, want, tail(r.out, 20), r.stderr)
	}
	t.Logf("user-space proof: %s; Run /init after %v; exit %d after %v",
		proof, r.firstAt["Run /init as init process"].Round(time.Millisecond), r.code, r.elapsed.Round(time.Millisecond))
	t.Logf("govmm -stats:\n%s", r.stderr)
}

func TestBootBzImage(t *testing.T) { testBoot(t, paths.bzImage) }

func TestBootPVH(t *testing.T) { testBoot(t, paths.vmlinux) }

// TestCompatOffFails: without the compatibility layer this host cannot run
// the kernel; govmm must say where it stopped and exit 4, not hang.
func TestCompatOffFails(t *testing.T) {
	requireKernel(t)
	if !hostEmulatesRing0() {
		t.Logf("host runs ring 0 in hardware: -compat off must boot normally")
	}
	t.Parallel()
	r := govmm(t, bootLimit, nil, "run", "-kernel", paths.bzImage, "-initrd", paths.initramfs,
		"-append", "console=ttyS0 panic=-1", "-compat", "off")
	if !hostEmulatesRing0() {
		if r.code != 3 && r.code != 0 {
			t.Fatalf("exit %d on a hardware host\n%s", r.code, r.stderr)
		}
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

// TestKernelTimeout: -timeout 5s on a kernel boot exits 124 within about 6 s.
func TestKernelTimeout(t *testing.T) {
	requireKernel(t)
	start := time.Now()
	r := govmm(t, time.Minute, nil, "run", "-kernel", paths.bzImage, "-initrd", paths.initramfs, "-timeout", "5s")
	d := time.Since(start)
	if r.code != 124 {
		t.Fatalf("exit %d, want 124\n%s", r.code, r.stderr)
	}
	if d > 6500*time.Millisecond {
		t.Fatalf("-timeout 5s took %v", d)
	}
	t.Logf("-timeout 5s exited 124 after %v", d.Round(time.Millisecond))
}
