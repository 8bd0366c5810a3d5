//go:build kvm

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/kvmtest"
)

// execResult is one govmm process whose stdout is kept byte for byte.
type execResult struct {
	code    int
	stdout  []byte
	stderr  string
	elapsed time.Duration
	args    []string
	// left is what govmm left in its TMPDIR, which must stay empty.
	left []string
}

// runExec runs the govmm binary with args, stdin as its stdin (nil: an
// empty stdin), in dir ("" for the test's own), and waits for it.
func runExec(t *testing.T, stdin []byte, dir string, args ...string) *execResult {
	t.Helper()
	limit := execTimeout + 2*time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, paths.bin, args...)
	cmd.Dir = dir
	// govmm exec keeps its initramfs in memory: a temporary file of its
	// own would appear in TMPDIR.
	tmpdir, err := os.MkdirTemp("", "exec-e2e-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmpdir) })
	cmd.Env = append(os.Environ(), "TMPDIR="+tmpdir)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	cmd.Run()
	r := &execResult{code: cmd.ProcessState.ExitCode(), stdout: out.Bytes(), stderr: errb.String(), elapsed: time.Since(start), args: args}
	entries, _ := os.ReadDir(tmpdir)
	for _, e := range entries {
		r.left = append(r.left, e.Name())
	}
	if ctx.Err() != nil {
		t.Fatalf("govmm %s did not exit within %v (hang)\nstderr:\n%s", strings.Join(args, " "), limit, r.stderr)
	}
	t.Logf("govmm %s: exit %d in %v", strings.Join(args, " "), r.code, r.elapsed.Round(time.Millisecond))
	return r
}

func (r *execResult) String() string {
	return "govmm " + strings.Join(r.args, " ") + "\nstdout:\n" + string(r.stdout) + "\nstderr:\n" + r.stderr
}

// execTimeout bounds one exec boot. On an emulated-ring-0 host the kernel
// also copies govmm's 7 MB binary out of the initramfs under emulation,
// which takes minutes on a loaded machine.
const execTimeout = 15 * time.Minute

// execArgs are the flags every exec test uses.
func execArgs(extra ...string) []string {
	return append([]string{"exec", "-kernel", paths.bzImage, "-m", "512M", "-timeout", execTimeout.String()}, extra...)
}

// Where guest user space cannot make system calls (PVM), exec cannot run
// a command, and every exec test checks its part of one shared run: with
// a -rwdir, a working directory below it and stdin data.
var noUserSpace struct {
	once  sync.Once
	r     *execResult
	rwdir string
}

// noUserSpaceRun makes (once) and returns that shared run.
func noUserSpaceRun(t *testing.T) (*execResult, string) {
	t.Helper()
	noUserSpace.once.Do(func() {
		rw, err := os.MkdirTemp("", "exec-e2e-rw-")
		if err != nil {
			t.Fatal(err)
		}
		noUserSpace.rwdir = rw
		noUserSpace.r = runExec(t, []byte("stdin data\n"), rw, execArgs("-rwdir", rw, "--", "sh", "-c", "cat > out.txt; exit 7")...)
	})
	if noUserSpace.r == nil {
		t.Fatal("the shared exec run failed")
	}
	return noUserSpace.r, noUserSpace.rwdir
}

// checkNoUserSpace is what an exec run proves on a host whose guest user
// space cannot make system calls (PVM): the kernel booted the generated
// initramfs and started govmm as /init, whose first system call killed
// it; govmm exec reports the kernel panic as exit 3 with the tail of the
// kernel's console on stderr, and nothing on stdout, which carries only
// the command's bytes.
func checkNoUserSpace(t *testing.T, h kvmtest.Host) {
	t.Helper()
	r, _ := noUserSpaceRun(t)
	if r.code != 3 || len(r.stdout) != 0 || !strings.Contains(r.stderr, "Attempted to kill init") ||
		!strings.Contains(r.stderr, "the kernel's console (ttyS0) ends") {
		t.Fatalf("%s: want exit 3 (init killed by its first system call), empty stdout and the kernel's console on stderr; got exit %d\n%s", h, r.code, r)
	}
	t.Logf("%s: guest user space cannot make system calls here; govmm as /init was started and died as expected (exit 3)", h)
}

// TestExecCommandFromHostRoot runs a shell and the host's compilers from
// the host's root in the test kernel: the guest's release, the command
// line govmm made and the command's exit status come back.
func TestExecCommandFromHostRoot(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	if !h.UserSpaceWorks() {
		checkNoUserSpace(t, h)
		return
	}
	script := "uname -r; cat /proc/cmdline; gcc --version | head -n1; "
	if _, err := exec.LookPath("go"); err == nil {
		script += "go version; "
	}
	r := runExec(t, nil, "", execArgs("-rootfs", "/", "--", "sh", "-c", script+"exit 7")...)
	lines := strings.Split(string(r.stdout), "\n")
	if r.code != 7 || len(lines) < 3 {
		t.Fatalf("want exit 7 and at least 3 lines\n%s", r)
	}
	// The bzImage's setup header holds "<release> (builder@host) #1 ...".
	img, err := os.ReadFile(paths.bzImage)
	if err != nil {
		t.Fatal(err)
	}
	if lines[0] == "" || !bytes.Contains(img, []byte(lines[0]+" (")) || lines[0] == hostRelease() {
		t.Errorf("uname -r %q is not the test kernel's release\n%s", lines[0], r)
	}
	if !strings.Contains(lines[1], "rdinit=/init") {
		t.Errorf("/proc/cmdline %q lacks govmm exec's rdinit=/init", lines[1])
	}
	if !strings.HasPrefix(lines[2], "gcc") {
		t.Errorf("gcc --version printed %q", lines[2])
	}
	if strings.Contains(script, "go version") && !strings.Contains(string(r.stdout), "go version go1.") {
		t.Errorf("go version did not run\n%s", r)
	}
}

// TestExecWritesStayInGuestExceptRWDir writes to /etc, /tmp and a
// -rwdir in the guest, from a working directory below the -rwdir: only
// the -rwdir write reaches the host.
func TestExecWritesStayInGuestExceptRWDir(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	if !h.UserSpaceWorks() {
		// The shared run's guest never reached its command: the -rwdir
		// stays as it was, and govmm left nothing in its TMPDIR.
		checkNoUserSpace(t, h)
		r, rw := noUserSpaceRun(t)
		if entries, _ := os.ReadDir(rw); len(entries) != 0 {
			t.Errorf("-rwdir changed without a guest user space: %v", entries)
		}
		if left := r.left; len(left) > 0 {
			t.Errorf("govmm exec left %q in its TMPDIR", left)
		}
		os.RemoveAll(rw)
		return
	}
	rw := t.TempDir()
	sub := filepath.Join(rw, "work")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	etc := "/etc/govmm-exec-e2e-" + filepath.Base(rw)
	script := `set -e; pwd; echo guest > ` + etc + `; cat ` + etc + `; echo tmp > /tmp/govmm-exec-e2e
echo result > result.txt; mkdir -p deep/er; echo x > deep/er/f; ls /`
	r := runExec(t, nil, sub, execArgs("-rootfs", "/", "-rwdir", rw, "--", "sh", "-c", script)...)
	if _, err := os.Stat(etc); err == nil {
		os.Remove(etc)
		t.Errorf("the guest's write to %s reached the host", etc)
	}
	if left := r.left; len(left) > 0 {
		t.Errorf("govmm exec left %q in its TMPDIR", left)
	}
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	if want := sub + "\nguest\n"; !strings.HasPrefix(string(r.stdout), want) {
		t.Errorf("stdout starts %q, want %q", r.stdout, want)
	}
	for p, want := range map[string]string{"result.txt": "result\n", "deep/er/f": "x\n"} {
		if b, err := os.ReadFile(filepath.Join(sub, p)); err != nil || string(b) != want {
			t.Errorf("-rwdir file %s on the host: %q, %v; want %q", p, b, err, want)
		}
	}
	if _, err := os.Stat("/tmp/govmm-exec-e2e"); err == nil {
		t.Error("the guest's write to /tmp reached the host")
	}
}

// TestExecStdio pipes binary data through cat in the guest: every byte
// comes back unchanged on stdout (no CR/LF translation, no kernel
// messages), stdin's end reaches the command, and stderr stays apart. The
// data is larger than the console's 64 KiB backlog, so the host must
// wait for room instead of dropping any.
func TestExecStdio(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	if !h.UserSpaceWorks() {
		checkNoUserSpace(t, h) // stdout stayed empty: no kernel message leaked into it
		return
	}
	data := make([]byte, 300<<10)
	rand.Read(data)
	copy(data, "line one\r\nline two\n\x00\x03\x04\x1a")
	r := runExec(t, data, "", execArgs("--", "sh", "-c", "cat; echo to-stderr >&2; exit 3")...)
	if r.code != 3 || !bytes.Equal(r.stdout, data) {
		t.Fatalf("want exit 3 and the %d bytes back; got exit %d and %d bytes (equal prefix %d)\nstderr:\n%s",
			len(data), r.code, len(r.stdout), commonPrefix(r.stdout, data), r.stderr)
	}
	if r.stderr != "to-stderr\n" {
		t.Errorf("stderr %q, want just the command's line", r.stderr)
	}
	r = runExec(t, []byte("hi\n"), "", execArgs("--", "cat")...)
	if r.code != 0 || string(r.stdout) != "hi\n" {
		t.Errorf("echo hi | govmm exec -- cat: want hi and exit 0\n%s", r)
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestShareMountsRoot9p boots with a -share as the root file system and
// no initrd: the kernel mounts it over virtio-9p and starts /init from
// it. That works where guest user space does not (the init's first
// system call then segfaults), so it runs on every host.
func TestShareMountsRoot9p(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "dev"), 0o755); err != nil { // devtmpfs is mounted there
		t.Fatal(err)
	}
	b, err := os.ReadFile(paths.init)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "init"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	markers := []string{"VFS: Mounted root (9p filesystem)", "Run /init as init process"}
	r := govmm(t, bootLimit, append(markers, helloLine, segfaultLine),
		"run", "-kernel", paths.bzImage, "-share", root+",tag=root,ro", "-timeout", (bootLimit - 30*time.Second).String(),
		"-append", "console=ttyS0 root=root rootfstype=9p rootflags=trans=virtio,version=9p2000.L init=/init panic=-1")
	if m, ok := inOrder(r.out, markers...); !ok {
		t.Fatalf("console lacks %q in order (exit %d)\nconsole tail:\n%s\nstderr:\n%s", m, r.code, tail(r.out, 40), r.stderr)
	}
	checkUserSpace(t, h, r)
}

// hostRelease is the host's kernel release, to tell it from the guest's.
func hostRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// TestRunRootfsShell boots `govmm run -rootfs /` and types into the
// interactive shell it starts on the console once its prompt is there.
func TestRunRootfsShell(t *testing.T) {
	h := requireKernel(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, paths.bin, "run", "-kernel", paths.bzImage, "-m", "512M", "-rootfs", "/", "-timeout", execTimeout.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []byte
	prompt := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		seen := false
		for {
			n, err := stdout.Read(buf)
			mu.Lock()
			out = append(out, buf[:n]...)
			if !seen && bytes.Contains(out, []byte("# ")) {
				seen = true
				close(prompt)
			}
			mu.Unlock()
			if err != nil {
				if !seen {
					close(prompt)
				}
				return
			}
		}
	}()
	<-prompt
	if h.UserSpaceWorks() {
		io.WriteString(stdin, "echo rootfs-$((6*7)); tty; exit 5\n")
	}
	err = cmd.Wait()
	mu.Lock()
	console := string(out)
	mu.Unlock()
	if ctx.Err() != nil {
		t.Fatalf("govmm run -rootfs did not exit (hang)\nconsole:\n%s\nstderr:\n%s", tail(console, 30), errb.String())
	}
	code := cmd.ProcessState.ExitCode()
	if !h.UserSpaceWorks() {
		if code != 3 || !strings.Contains(console, "Attempted to kill init") {
			t.Fatalf("%s: want exit 3 (init killed by its first system call); got %d\nconsole:\n%s\nstderr:\n%s", h, code, tail(console, 30), errb.String())
		}
		return
	}
	if code != 0 || !strings.Contains(console, "rootfs-42") || !strings.Contains(console, "/dev/console") {
		t.Fatalf("want the shell's answers (rootfs-42, /dev/console) and exit 0 after it exits; got exit %d\nconsole:\n%s\nstderr:\n%s", code, tail(console, 30), errb.String())
	}
}
