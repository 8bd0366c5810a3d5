package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rootImage makes a 16 MiB ext4 image holding the test /init, with Debian's
// mke2fs -d, and returns its path.
func rootImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(paths.init)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "init"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "root.img")
	out, err := exec.Command("mke2fs", "-q", "-t", "ext4", "-d", root, img, "16M").CombinedOutput()
	if err != nil {
		t.Fatalf("mke2fs (apt-get install e2fsprogs): %v\n%s", err, out)
	}
	return img
}

// servedBy reads "<device> N" from the -stats virtio table.
func servedBy(stderr, device string) int {
	m := regexp.MustCompile(regexp.QuoteMeta(device) + `\s+(\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestBootRootDiskSMP boots with two CPUs and the root filesystem on a
// virtio-blk disk (no initramfs), with virtio-rng attached.
func TestBootRootDiskSMP(t *testing.T) {
	requireKernel(t)
	t.Parallel()
	img := rootImage(t)
	r := govmm(t, bootLimit, nil, "run", "-kernel", paths.bzImage, "-smp", "2", "-disk", img,
		"-append", "console=ttyS0 root=/dev/vda rw init=/init panic=-1", "-stats")
	// 16 MiB = 32768 sectors; virtio_blk prints decimal and binary units.
	markers := []string{
		"smp: Brought up 1 node, 2 CPUs",
		"[vda] 32768 512-byte logical blocks (16.8 MB/16.0 MiB)",
		"VFS: Mounted root (ext4 filesystem) on device 254:0",
		"Run /init as init process",
	}
	if m, ok := inOrder(r.out, markers...); !ok {
		t.Fatalf("console lacks %q in order (exit %d)\nconsole tail:\n%s\nstderr:\n%s", m, r.code, tail(r.out, 40), r.stderr)
	}
	proof := userSpaceProof(r.out)
	want := map[string]int{"hello": 0, "segfault": 3}[proof]
	if proof == "" || r.code != want {
		t.Fatalf("/init from disk: proof %q, exit %d\nconsole tail:\n%s\nstderr:\n%s", proof, r.code, tail(r.out, 20), r.stderr)
	}
	// The kernel's hwrng core reads from virtio_rng once it registers.
	if n := servedBy(r.stderr, "virtio-rng"); n <= 0 {
		t.Fatalf("virtio-rng served %d buffers: the kernel did not register virtio_rng\n%s", n, r.stderr)
	}
	t.Logf("root from virtio-blk, 2 CPUs: proof %s, exit %d after %v; virtio-rng served %d buffers",
		proof, r.code, r.elapsed.Round(time.Millisecond), servedBy(r.stderr, "virtio-rng"))
}

// TestBootReadOnlyDiskVirtioConsole: the same image as a read-only disk, and
// hvc0 as the only console, so the log arrives over virtio-console. The
// kernel mounts a read-only device read-only even when told rw.
func TestBootReadOnlyDiskVirtioConsole(t *testing.T) {
	requireKernel(t)
	t.Parallel()
	img := rootImage(t)
	before, _ := os.ReadFile(img)
	r := govmm(t, bootLimit, nil, "run", "-kernel", paths.vmlinux, "-disk", img+",ro", "-console", "virtio", "-rng=false",
		"-append", "console=hvc0 root=/dev/vda rw init=/init panic=-1", "-stats")
	// hvc0 registers late; the console starts with the lines after that.
	if m, ok := inOrder(r.out, "[vda] 32768 512-byte logical blocks", "VFS: Mounted root (ext4 filesystem) readonly", "Run /init as init process"); !ok {
		t.Fatalf("console lacks %q (exit %d)\nconsole tail:\n%s\nstderr:\n%s", m, r.code, tail(r.out, 40), r.stderr)
	}
	// ttyS0 is no console here: the UART saw only the 8250 driver's probe,
	// while virtio-console carried thousands of lines' worth of buffers.
	if n := servedBy(r.stderr, "virtio-console"); n < 100 {
		t.Fatalf("virtio-console served %d buffers\n%s", n, r.stderr)
	}
	if strings.Contains(r.out, "console [ttyS0] enabled") {
		t.Fatal("ttyS0 became a console")
	}
	after, _ := os.ReadFile(img)
	if string(before) != string(after) {
		t.Fatal("the read-only image changed")
	}
	t.Logf("read-only root over virtio-blk, console over virtio: exit %d after %v, virtio-console served %d buffers",
		r.code, r.elapsed.Round(time.Millisecond), servedBy(r.stderr, "virtio-console"))
}

// TestKernelPanicExits3: a kernel that cannot mount its root panics, and
// pvpanic turns that into exit 3.
func TestKernelPanicExits3(t *testing.T) {
	requireKernel(t)
	t.Parallel()
	r := govmm(t, bootLimit, nil, "run", "-kernel", paths.vmlinux, "-rng=false",
		"-append", "console=ttyS0 root=/dev/nonexistent panic=-1")
	if _, ok := inOrder(r.out, "Kernel panic - not syncing"); !ok || r.code != 3 {
		t.Fatalf("exit %d, want 3 after a kernel panic\nconsole tail:\n%s\nstderr:\n%s", r.code, tail(r.out, 20), r.stderr)
	}
	if !strings.Contains(r.stderr, "pvpanic") {
		t.Fatalf("stderr does not name pvpanic:\n%s", r.stderr)
	}
	t.Logf("panic: exit 3 after %v: %s", r.elapsed.Round(time.Millisecond), strings.TrimSpace(r.stderr))
}

// TestSIGTERMClosesCleanly: SIGTERM during a boot with a disk ends govmm
// with 143 after it has flushed and closed the disk.
func TestSIGTERMClosesCleanly(t *testing.T) {
	requireKernel(t)
	img := rootImage(t)
	cmd := exec.Command(paths.bin, "run", "-kernel", paths.bzImage, "-disk", img, "-append", "console=ttyS0 root=/dev/vda", "-v")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143\n%s", code, stderr.String())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("SIGTERM took %v", d)
	}
	if !strings.Contains(stderr.String(), "stopped by SIGTERM") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
}
