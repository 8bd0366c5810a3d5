package sandbox

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/govmm/govmm/internal/nocgo"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run one child scenario (TestMain) instead
// of the tests: the filter cannot be removed once installed, so every test
// that installs it does so in a child process.
const childEnv = "GOVMM_SANDBOX_TEST_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		children[name]()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// children are the scenarios a child process runs; each installs the
// filter.
var children = map[string]func(){
	"getcwd": func() {
		install()
		forbidden(func() { syscall.Syscall(unix.SYS_GETCWD, 0, 0, 0) })
	},
	"openat": func() {
		install()
		forbidden(func() { os.Open("/etc/hostname") })
	},
	"socket": func() {
		install()
		forbidden(func() { unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0) })
	},
	// KVM_CREATE_VM is a set-up ioctl: refused even on a bad fd.
	"ioctl-create-vm": func() {
		install()
		forbidden(func() { unix.Syscall(unix.SYS_IOCTL, ^uintptr(0), 0xAE01, 0) })
	},
	// A clone without CLONE_THREAD (a fork) is refused.
	"fork": func() {
		install()
		forbidden(func() { unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0) })
	},
	"mmap-exec": func() {
		install()
		forbidden(func() {
			unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		})
	},
	"mprotect-exec": func() {
		b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			panic(err)
		}
		install()
		forbidden(func() { unix.Mprotect(b, unix.PROT_READ|unix.PROT_EXEC) })
	},
	// clone3 fails with ENOSYS (glibc then uses clone) instead of ending
	// the process.
	"clone3": func() {
		install()
		_, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		fmt.Println(e == unix.ENOSYS)
		os.Exit(0)
	},
	"allowed": allowedChild,
}

func install() {
	if err := Install(); err != nil {
		fmt.Fprintln(os.Stderr, "Install:", err)
		os.Exit(3)
	}
	if err := Install(); err != nil { // a second call is a no-op
		fmt.Fprintln(os.Stderr, "second Install:", err)
		os.Exit(3)
	}
}

// forbidden makes the call on a goroutine of its own (a thread other than
// the one that installed the filter) and waits for the handler to end the
// process.
func forbidden(call func()) {
	go call()
	time.Sleep(10 * time.Second)
	fmt.Fprintln(os.Stderr, "still alive after the forbidden call")
	os.Exit(4)
}

// child runs scenario name in a child process.
func child(t *testing.T, name string, extraEnv ...string) (code int, stdout, stderr string) {
	t.Helper()
	nocgo.Require(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + name}, extraEnv...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func TestForbiddenCallEndsWithOneLineAndExit1(t *testing.T) {
	if !seccomp.Supported() {
		t.Skip("no seccomp on this kernel")
	}
	for _, c := range []struct {
		name string
		nr   int
	}{
		{"getcwd", unix.SYS_GETCWD},
		{"openat", unix.SYS_OPENAT},
		{"socket", unix.SYS_SOCKET},
		{"ioctl-create-vm", unix.SYS_IOCTL},
		{"fork", unix.SYS_CLONE},
		{"mmap-exec", unix.SYS_MMAP},
		{"mprotect-exec", unix.SYS_MPROTECT},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := child(t, c.name)
			want := fmt.Sprintf("govmm: sandbox: forbidden system call %d (see SECURITY.md; -sandbox=off disables the filter)\n", c.nr)
			if code != 1 || stderr != want {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
			}
		})
	}
}

// allowedChild does what govmm does after set-up, under the filter, and
// prints "ok": disk I/O, eventfds, poll, KVM-style kicks, new threads, GC,
// timers, signals, stdout and stderr.
func allowedChild() {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(5)
	}
	// Set-up: files and eventfds are opened before Install.
	disk, err := os.CreateTemp(os.Getenv("TMPDIR_CHILD"), "disk")
	if err != nil {
		fail("create", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		fail("eventfd", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)

	install()

	// virtio-blk: pwrite, pread, fsync, fdatasync.
	if _, err := disk.WriteAt([]byte("sector"), 4096); err != nil {
		fail("pwrite", err)
	}
	b := make([]byte, 6)
	if _, err := disk.ReadAt(b, 4096); err != nil || string(b) != "sector" {
		fail("pread", err)
	}
	if err := disk.Sync(); err != nil {
		fail("fsync", err)
	}
	if err := unix.Fdatasync(int(disk.Fd())); err != nil {
		fail("fdatasync", err)
	}
	if err := disk.Truncate(0); err != nil {
		fail("ftruncate", err)
	}

	// virtio worker: an eventfd signalled from another goroutine wakes poll.
	go func() {
		var one [8]byte
		binary.LittleEndian.PutUint64(one[:], 1)
		unix.Write(efd, one[:])
	}()
	pfd := []unix.PollFd{{Fd: int32(efd), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, 5000); err != nil || pfd[0].Revents&unix.POLLIN == 0 {
		fail("poll", err)
	}
	var cnt [8]byte
	if _, err := unix.Read(efd, cnt[:]); err != nil {
		fail("eventfd read", err)
	}

	// Threads made after Install: locked goroutines blocked in a system
	// call force the runtime to start new Ms (clone), as VCPU loops do;
	// each is kicked with SIGUSR1 (tgkill) like a VCPU in KVM_RUN.
	var wg sync.WaitGroup
	tids := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- unix.Gettid()
			ts := unix.NsecToTimespec(int64(300 * time.Millisecond))
			unix.Nanosleep(&ts, nil) // EINTR on the kick is fine
		}()
	}
	for range 8 {
		if err := unix.Tgkill(unix.Getpid(), <-tids, unix.SIGUSR1); err != nil {
			fail("tgkill", err)
		}
	}
	wg.Wait()

	// Go runtime: allocation, GC, returning memory, timers, randomness.
	var keep [][]byte
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	keep = nil
	runtime.GC()
	debug.FreeOSMemory()
	t := time.NewTimer(20 * time.Millisecond)
	<-t.C
	if _, err := unix.Getrandom(b, 0); err != nil {
		fail("getrandom", err)
	}
	// sysmon rereads the CPU limit about once a second.
	time.Sleep(1500 * time.Millisecond)

	// A signal delivered to os/signal, then Stop.
	unix.Tgkill(unix.Getpid(), unix.Gettid(), unix.SIGTERM)
	select {
	case <-sigs:
	case <-time.After(5 * time.Second):
		fail("signal", fmt.Errorf("SIGTERM not delivered"))
	}
	signal.Stop(sigs)

	disk.Close()
	unix.Close(efd)
	fmt.Fprintln(os.Stderr, "stderr works")
	fmt.Println("ok")
}

func TestClone3FailsWithENOSYS(t *testing.T) {
	if !seccomp.Supported() {
		t.Skip("no seccomp on this kernel")
	}
	if code, stdout, stderr := child(t, "clone3"); code != 0 || stdout != "true\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestAllowedCallsKeepWorking(t *testing.T) {
	if !seccomp.Supported() {
		t.Skip("no seccomp on this kernel")
	}
	code, stdout, stderr := child(t, "allowed", "TMPDIR_CHILD="+t.TempDir())
	if code != 0 || stdout != "ok\n" || stderr != "stderr works\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestAllowedListWellFormed(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range append(append([]Rule(nil), Allowed...), FailENOSYS...) {
		if seen[r.Name] {
			t.Errorf("%s: listed twice", r.Name)
		}
		seen[r.Name] = true
		if _, ok := info.SyscallNames[r.Name]; !ok {
			t.Errorf("%s: not a system call on %s", r.Name, info.Name)
		}
		if strings.TrimSpace(r.Why) == "" || strings.Contains(r.Why, "\n") {
			t.Errorf("%s: needs a one-line reason, got %q", r.Name, r.Why)
		}
	}
	for _, r := range FailENOSYS {
		seen[r.Name] = false // refused, though not fatally
	}
	for _, must := range []string{"write", "exit_group", "rt_sigreturn"} {
		if !seen[must] {
			t.Errorf("%s must be allowed: the SIGSYS handler and signal returns use it", must)
		}
	}
	for _, deny := range []string{"openat", "open", "execve", "execveat", "fork", "vfork", "clone3", "socket", "connect", "ptrace", "kill", "process_vm_writev"} {
		if seen[deny] {
			t.Errorf("%s is allowed: the sandbox exists to refuse it", deny)
		}
	}
	reqs := map[uint64]string{}
	for _, io := range AllowedIoctls {
		if prev, ok := reqs[io.Req]; ok {
			t.Errorf("ioctl %s: request %#x already listed as %s", io.Name, io.Req, prev)
		}
		reqs[io.Req] = io.Name
		if strings.TrimSpace(io.Why) == "" || strings.Contains(io.Why, "\n") {
			t.Errorf("ioctl %s: needs a one-line reason", io.Name)
		}
	}
	p, err := Policy()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Assemble(); err != nil {
		t.Fatal(err)
	}
}

func TestArgConditions(t *testing.T) {
	if _, err := (Arg{Index: 6}).condition(); err == nil {
		t.Error("argument 6 accepted")
	}
	if _, err := (Arg{Op: AllSet, Value: 3}).condition(); err == nil {
		t.Error("AllSet with two bits accepted")
	}
	if c, err := (Arg{Index: 2, Op: NoneSet, Value: 4}).condition(); err != nil || c.Operation != seccomp.BitsNotSet || c.Argument != 2 {
		t.Errorf("NoneSet: %+v, %v", c, err)
	}
}

// TestMessageFitsHandlerBuffer: the handler builds the line in 224 bytes of
// stack, ahead of 16 bytes for the digits.
func TestMessageFitsHandlerBuffer(t *testing.T) {
	if n := len(Prefix) + 10 + len(Suffix); n > 224 {
		t.Fatalf("message is %d bytes", n)
	}
	_ = filepath.Join // keep imports honest if cases move
}

// TestFileServerRules: the 9P server's extra calls are well formed, name
// real system calls, repeat nothing in Allowed, and assemble into a policy.
func TestFileServerRules(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Allowed {
		seen[r.Name] = true
	}
	for _, r := range FileServer {
		if r.Why == "" {
			t.Errorf("%s: no reason", r.Name)
		}
		if seen[r.Name] {
			t.Errorf("%s: listed twice", r.Name)
		}
		seen[r.Name] = true
	}
	p, err := Policy(FileServer...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Assemble(); err != nil {
		t.Fatalf("assembling with FileServer: %v", err)
	}
}

// TestRestartRules: the rules for -reboot restart are well formed, and
// together with FileServer (a restart with shares) they still assemble.
func TestRestartRules(t *testing.T) {
	for _, r := range Restart {
		if r.Why == "" {
			t.Errorf("%s: no reason", r.Name)
		}
	}
	p, err := Policy(append(append([]Rule{}, FileServer...), Restart...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Assemble(); err != nil {
		t.Fatalf("assembling FileServer and Restart: %v", err)
	}
}
