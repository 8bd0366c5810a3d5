//go:build kvm

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/kvmtest"
)

// rootImage makes a 16 MiB ext4 image holding the test /init, with Debian's
// mke2fs -d, and returns its path. With pause, the image also holds /pause,
// which makes the init wait forever after its hello line.
func rootImage(t *testing.T, pause bool) string {
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
	if pause {
		if err := os.WriteFile(filepath.Join(root, "pause"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
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
	h := requireKernel(t)
	t.Parallel()
	img := rootImage(t, false)
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
	proof := checkUserSpace(t, h, r)
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
	h := requireKernel(t)
	t.Parallel()
	img := rootImage(t, false)
	before, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	r := govmm(t, bootLimit, nil, "run", "-kernel", paths.vmlinux, "-disk", img+",ro", "-console", "virtio", "-rng=false",
		"-append", "console=hvc0 root=/dev/vda rw init=/init panic=-1", "-stats")
	// hvc0 registers late; the console starts with the lines after that.
	if m, ok := inOrder(r.out, "[vda] 32768 512-byte logical blocks", "VFS: Mounted root (ext4 filesystem) readonly", "Run /init as init process"); !ok {
		t.Fatalf("console lacks %q (exit %d)\nconsole tail:\n%s\nstderr:\n%s", m, r.code, tail(r.out, 40), r.stderr)
	}
	proof := checkUserSpace(t, h, r)
	// ttyS0 is no console here, so every line above came through
	// virtio-console buffers (-stats counts them).
	if strings.Contains(r.out, "console [ttyS0] enabled") {
		t.Fatal("ttyS0 became a console")
	}
	n := servedBy(r.stderr, "virtio-console")
	if n <= 0 {
		t.Fatalf("virtio-console served %d buffers\n%s", n, r.stderr)
	}
	after, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the read-only image changed")
	}
	t.Logf("read-only root over virtio-blk, console over virtio: proof %s, exit %d after %v, virtio-console served %d buffers",
		proof, r.code, r.elapsed.Round(time.Millisecond), n)
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

// sigtermAfter starts govmm with args, reads the console until marker,
// waits settle, sends SIGTERM and waits for govmm to end. It fails t
// unless govmm exits 143 within limit and says it was stopped by SIGTERM,
// and returns govmm's stderr and how long the exit took.
func sigtermAfter(t *testing.T, h kvmtest.Host, marker string, settle, limit time.Duration, args ...string) (string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bootLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, paths.bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	seen := false
	for !seen && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		seen = strings.Contains(sc.Text(), marker)
	}
	if !seen {
		cmd.Wait()
		t.Fatalf("%s: console ended before %q (exit %d)\n%s\nstderr:\n%s", h, marker, cmd.ProcessState.ExitCode(), tail(out.String(), 30), stderr.String())
	}
	time.Sleep(settle)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	io.Copy(io.Discard, stdout)
	cmd.Wait()
	took := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Fatalf("exit %d after SIGTERM, want 143\n%s", code, stderr.String())
	}
	if took > limit {
		t.Fatalf("SIGTERM took %v, want at most %v", took, limit)
	}
	if !strings.Contains(stderr.String(), "stopped by SIGTERM") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
	return stderr.String(), took
}

// TestSIGTERMClosesCleanly: SIGTERM to a running guest whose root disk is
// mounted read-write ends govmm with 143, promptly, and what the guest
// wrote is in the image file afterwards.
//
// The signal is sent once the guest has mounted the disk: where user space
// works, after the init's hello (the image holds /pause, so the init then
// waits forever); where ring 0 is emulated, at "VFS: Mounted root", seconds
// before the init's first system call would end the run.
func TestSIGTERMClosesCleanly(t *testing.T) {
	h := requireKernel(t)
	img := rootImage(t, true)
	marker := "VFS: Mounted root (ext4 filesystem) on device"
	if h.UserSpaceWorks() {
		marker = helloLine
	}
	_, took := sigtermAfter(t, h, marker, 0, 3*time.Second, "run", "-kernel", paths.bzImage, "-disk", img,
		"-append", "console=ttyS0 root=/dev/vda rw init=/init panic=-1", "-v")
	// Mounting ext4 read-write writes the superblock (fs/ext4/super.c,
	// ext4_setup_super): s_mnt_count at offset 0x34 goes from mke2fs's 0
	// to 1 and s_mtime at 0x2C gets the mount time (the ext4 disk layout;
	// the superblock starts at byte 1024).
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil {
		t.Fatal(err)
	}
	if magic := binary.LittleEndian.Uint16(sb[0x38:]); magic != 0xEF53 {
		t.Fatalf("superblock magic %#x, want 0xef53", magic)
	}
	mounts, mtime := binary.LittleEndian.Uint16(sb[0x34:]), binary.LittleEndian.Uint32(sb[0x2C:])
	if mounts != 1 || mtime == 0 {
		t.Fatalf("superblock: s_mnt_count %d, s_mtime %d: the guest's mount-time write is not in the image", mounts, mtime)
	}
	t.Logf("%s: SIGTERM after %q: exit 143 in %v; image superblock s_mnt_count=1, s_mtime=%d", h.Name, marker, took.Round(time.Millisecond), mtime)
}

// TestSIGTERMDuringHeavyIO: /init writes the disk as fast as it can (4 KiB
// blocks, each filled with one byte value, an fdatasync every 64), and
// govmm gets SIGTERM in the middle of it. It must stop within 5 s with
// exit 143, through Close (disks synced), with the sandbox on, and every
// block of the image must be whole: one value throughout, or never
// written. Where user space cannot run there is no I/O loop; the segfault
// proof stands in (TestSIGTERMClosesCleanly covers SIGTERM there).
func TestSIGTERMDuringHeavyIO(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	if !h.UserSpaceWorks() {
		r := govmm(t, bootLimit, []string{helloLine, segfaultLine}, "run", "-kernel", paths.bzImage,
			"-initrd", paths.initramfs, "-append", "console=ttyS0 panic=-1 -- io-loop")
		checkUserSpace(t, h, r)
		return
	}
	img := filepath.Join(t.TempDir(), "io.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	// Let the writes run for a second before the signal.
	stderr, took := sigtermAfter(t, h, "govmm-guest: io-loop writing", time.Second, 5*time.Second,
		"run", "-kernel", paths.bzImage, "-initrd", paths.initramfs,
		"-disk", img, "-append", "console=ttyS0 panic=-1 -- io-loop", "-stats")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for i := 0; i+4096 <= len(data); i += 4096 {
		b := data[i : i+4096]
		for _, c := range b {
			if c != b[0] {
				t.Fatalf("block %d is torn: starts with %#x, holds %#x", i/4096, b[0], c)
			}
		}
		if b[0] != 0 {
			written++
		}
	}
	if written == 0 {
		t.Fatal("no block of the image was written")
	}
	t.Logf("SIGTERM during I/O: exit 143 in %v, %d of %d blocks written, all whole; virtio-blk served %d buffers",
		took.Round(time.Millisecond), written, len(data)/4096, servedBy(stderr, "virtio-blk "+img))
}
