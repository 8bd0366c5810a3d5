package nestedhost

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/govmm/govmm/initramfs"
)

// Options describe one nested run.
type Options struct {
	// Argv is the command to run in the L1, chrooted into this machine's
	// root; Argv[0] is looked up in the L1's PATH.
	Argv []string
	// Env is the command's environment (os.Environ() when nil).
	Env []string
	// Dir is the command's working directory (the caller's when empty).
	Dir string
	// Timeout bounds the whole run, boot included; 0 means no limit.
	Timeout time.Duration
	// Memory is the L1's RAM in QEMU's syntax (default "4G").
	Memory string
	// CPUs is the L1's vCPU count (default 2).
	CPUs int
	// Init is a static binary that runs GuestMain when it is PID 1 (the
	// govmm-nested command).
	Init string
	// Assets are QEMU, the L1 kernel and its modules (EnsureAssets).
	Assets Assets
	// Output receives the L1's console: the command's stdout and stderr.
	Output io.Writer
	// Log receives nestedhost's own messages (nil: discarded).
	Log io.Writer
}

// Result is what a finished run reports.
type Result struct {
	// Exit is the command's exit status.
	Exit int
	// Boot is the time from starting QEMU until the L1 was ready to run
	// the command (0 if it never was).
	Boot time.Duration
	// Total is the whole run, from starting QEMU until it exited.
	Total time.Duration
}

// ErrTimeout is returned when Options.Timeout expired; QEMU has been killed.
var ErrTimeout = errors.New("nested host: timed out")

// Run boots the L1, runs the command there and returns its exit status.
// QEMU is killed when ctx ends or the timeout expires, and, through
// PR_SET_PDEATHSIG, if this process dies first: no run leaves a QEMU behind.
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	if len(o.Argv) == 0 {
		return res, errors.New("nested host: no command to run")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Memory == "" {
		o.Memory = "4G"
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	if o.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return res, err
		}
		o.Dir = wd
	}
	if err := checkStatic(o.Init); err != nil {
		return res, err
	}

	runDir, err := os.MkdirTemp("", "govmm-nested-")
	if err != nil {
		return res, fmt.Errorf("nested host: run directory: %w", err)
	}
	defer os.RemoveAll(runDir)
	b, _ := json.Marshal(job{Argv: o.Argv, Env: o.Env, Dir: o.Dir})
	if err := os.WriteFile(filepath.Join(runDir, jobFile), b, 0o644); err != nil {
		return res, fmt.Errorf("nested host: %w", err)
	}
	// The initramfs lives beside the run directory, not in it: the L1
	// sees only the job and writes only its answers.
	initrd := runDir + ".cpio"
	defer os.Remove(initrd)
	if err := writeInitramfs(initrd, o.Init, o.Assets.Modules); err != nil {
		return res, err
	}

	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	consoleLog := runDir + ".console"
	defer os.Remove(consoleLog)
	args := qemuArgs(o, initrd, runDir, consoleLog)
	fmt.Fprintf(o.Log, "nestedhost: %s %s\n", o.Assets.QEMU, strings.Join(args, " "))
	start := time.Now()
	qemuErr := runQEMU(ctx, o.Assets.QEMU, args, o.Output)
	res.Total = time.Since(start)

	var rd ready
	if b, err := os.ReadFile(filepath.Join(runDir, readyFile)); err == nil && json.Unmarshal(b, &rd) == nil {
		res.Boot = time.Duration(rd.Uptime * float64(time.Second))
		fmt.Fprintf(o.Log, "nestedhost: L1 %s ready after %.1f s of its uptime (/dev/kvm: %v)\n", rd.Kernel, rd.Uptime, rd.KVM)
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The L1 kernel's log says whether the L1 itself was stuck.
			klog, _ := os.ReadFile(consoleLog)
			return res, fmt.Errorf("%w after %v (QEMU killed)%s", ErrTimeout, o.Timeout, lastLines(klog, 20))
		}
		return res, fmt.Errorf("nested host: stopped: %w (QEMU killed)", ctx.Err())
	}
	var st status
	b, err = os.ReadFile(filepath.Join(runDir, statusFile))
	if err != nil || json.Unmarshal(b, &st) != nil {
		klog, _ := os.ReadFile(consoleLog)
		return res, fmt.Errorf("nested host: the L1 ended without a status (QEMU: %v)%s", qemuErr, lastLines(klog, 15))
	}
	if st.Error != "" {
		return res, fmt.Errorf("nested host: L1: %s", st.Error)
	}
	res.Exit = st.Exit
	return res, nil
}

// qemuArgs is the QEMU command line: TCG (every machine has it) with an
// emulated AMD-V CPU ("max" includes svm and npt), the host's root and the
// run directory over virtio-9p, the command's output on ttyS0 (QEMU's
// stdout) and the L1 kernel's console on ttyS1 (a log file).
func qemuArgs(o Options, initrd, runDir, consoleLog string) []string {
	return []string{
		"-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", fmt.Sprint(o.CPUs), "-m", o.Memory,
		"-M", "pc", "-nodefaults", "-no-user-config", "-display", "none",
		// A panic or reboot of the L1 ends QEMU instead of looping.
		"-no-reboot",
		"-kernel", o.Assets.Kernel, "-initrd", initrd,
		// mitigations=off: TCG pays dearly for every speculation barrier,
		// and the L1 runs only our own tests.
		// idle=poll: the L1 never executes HLT. With HLT, QEMU 7.2's
		// multi-threaded TCG sometimes never wakes a halted L1 CPU, and
		// the whole L1 stops (measured: a guest that halts with
		// interrupts off, stopped by a signal, hung the L1 within 3 to 30
		// runs; with idle=poll, 160 of 160 passed).
		"-append", "console=ttyS1 loglevel=6 panic=-1 mitigations=off idle=poll rdinit=/init",
		"-serial", "stdio", "-serial", "file:" + consoleLog,
		"-virtfs", "local,path=/,mount_tag=" + hostRootTag + ",security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + runDir + ",mount_tag=" + runTag + ",security_model=none,multidevs=remap",
	}
}

// runQEMU runs QEMU to the end with its stdout and stderr copied to out,
// and returns its error. The process and the goroutine's OS
// thread are tied: PR_SET_PDEATHSIG fires when the thread that started the
// child exits, so the thread stays locked until the child is reaped.
func runQEMU(ctx context.Context, qemu string, args []string, out io.Writer) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cmd := exec.Command(qemu, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Stdout = out
		cmd.Stderr = out
		if err := cmd.Start(); err != nil {
			ch <- err
			return
		}
		stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		err := cmd.Wait()
		stop()
		// Nothing QEMU started may outlive it either.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		ch <- err
	}()
	return <-ch
}

// writeInitramfs makes the L1's initramfs: /init, and the modules in load
// order under /modules.
func writeInitramfs(path, init string, modules []string) error {
	b, err := os.ReadFile(init)
	if err != nil {
		return fmt.Errorf("nested host: init binary: %w", err)
	}
	spec := initramfs.Spec{Init: b, Files: map[string]string{}}
	for _, m := range modules {
		spec.Files["modules/"+filepath.Base(m)] = m
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("nested host: %w", err)
	}
	if err := initramfs.Write(f, spec); err != nil {
		f.Close()
		return fmt.Errorf("nested host: %w", err)
	}
	return f.Close()
}

// checkStatic refuses an /init that needs a dynamic loader: the L1's
// initramfs holds no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("nested host: init binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("nested host: init binary %s %w", path, errNotStatic)
		}
	}
	return nil
}

// lastLines formats the last n lines of b for an error message.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return "; the L1 kernel's log ends:\n" + strings.Join(lines, "\n")
}
