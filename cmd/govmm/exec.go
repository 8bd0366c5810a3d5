package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/govmm/govmm/guestinit"
	"github.com/govmm/govmm/initramfs"
	"github.com/govmm/govmm/machine"
)

// govmm exec runs one command in a guest kernel, on the host's own files:
//
//	govmm exec -kernel bzImage [run flags] [-rootfs /] [-rwdir DIR]... -- CMD [ARGS...]
//
// The guest boots an initramfs made in memory: /init is this very binary
// (it must be static) and /govmm/job.json says what to run (package
// guestinit). -rootfs is shared read-only over virtio-9p and becomes the
// guest's root under an overlay whose upper layer is guest memory, so the
// command may write anywhere and nothing reaches the host, except below a
// -rwdir, which is shared read-write at the same path.
//
// The command's stdio travels over the virtio console (hvc0), which the
// guest init puts in raw mode and cuts into frames (guestinit/proto.go):
// that needs no new device, keeps stdout byte-exact and apart from stderr
// (no CR/LF translation, no kernel messages mixed in), and lets stdin end
// without ending the channel, so `echo hi | govmm exec -- cat` works. The
// kernel's own console stays on ttyS0; govmm keeps its tail in memory and
// prints it when the run fails (-v prints it as it comes).

// Mount tags govmm exec gives its own shares; -share may not use them.
const (
	execTagPrefix = "govmm-"
	execRootTag   = execTagPrefix + "root"
	execRWTag     = execTagPrefix + "rw%d"
)

// kernelLogMax bounds the kernel console output kept for a failure report.
const kernelLogMax = 256 << 10

// selfExecutable is the binary that becomes the guest's /init; tests
// point it at a static ELF of their own.
var selfExecutable = os.Executable

// registerRootfs adds -rootfs and -rwdir, which run and exec share.
func (f *runFlags) registerRootfs(fs *flag.FlagSet) {
	fs.StringVar(&f.rootfs, "rootfs", "", "host directory that becomes the guest's root, read-only over virtio-9p under an overlay in guest memory; run: an interactive /bin/sh on the console (exec: default /)")
	fs.Func("rwdir", "host directory shared read-write at the same path in the guest (repeatable): the command's writes there reach the host", func(v string) error {
		if v == "" {
			return errors.New("no directory")
		}
		f.rwdirs = append(f.rwdirs, v)
		return nil
	})
}

// checkExec refuses the run flags that govmm exec decides itself.
func (f *runFlags) checkExec(argv []string) error {
	switch {
	case len(argv) == 0:
		return errors.New("no command: govmm exec [flags] -- CMD [ARGS...]")
	case f.raw != "" || f.set["raw-mode"] || f.set["raw-addr"]:
		return errors.New("-raw: govmm exec boots a kernel (-kernel)")
	case f.kernel == "":
		return errors.New("-kernel: govmm exec needs a kernel to boot")
	case f.initrd != "":
		return errors.New("-initrd: govmm exec makes its own initramfs")
	case f.set["console"]:
		return errors.New("-console: govmm exec uses hvc0 for the command's stdio and ttyS0 for the kernel's console")
	case f.reboot != "exit":
		return errors.New("-reboot: govmm exec ends when the command does")
	case f.set["acpi"] && !bool(f.acpi):
		return errors.New("-acpi=off: govmm exec powers the guest off through ACPI")
	}
	for _, sh := range f.shares {
		if strings.HasPrefix(sh.Tag, execTagPrefix) {
			return fmt.Errorf("-share %s: tag=%s: tags starting with %q are govmm exec's own", sh.Dir, sh.Tag, execTagPrefix)
		}
	}
	if !f.set["rootfs"] {
		f.rootfs = "/"
	}
	return f.checkRootfs()
}

// checkRootfs checks -rootfs and -rwdir as far as the command line goes
// and prepares the flags for a guest whose /init is govmm (the sandbox
// then also allows the 9P server's file calls: sandboxInstaller), and
// only the user's -append after govmm's.
func (f *runFlags) checkRootfs() error {
	switch {
	case f.rootfs == "" && f.set["rootfs"]:
		return errors.New("-rootfs: no directory")
	case f.rootfs == "" && len(f.rwdirs) > 0:
		return errors.New("-rwdir needs -rootfs")
	case f.rootfs == "":
		return nil
	case f.kernel == "":
		return errors.New("-rootfs needs -kernel")
	case f.initrd != "":
		return errors.New("-initrd: -rootfs boots an initramfs govmm makes")
	}
	if !f.set["append"] {
		f.cmdline = ""
	}
	return nil
}

// execCmd checks like run (command line: exit 2; files: exit 1), boots the
// guest and returns the command's exit status, or govmm's own code when
// the guest failed (3, 4, 124, ...).
func execCmd(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("govmm exec")
	var f runFlags
	f.register(fs)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage: govmm exec -kernel F [flags] [-rootfs DIR] [-rwdir DIR]... -- CMD [ARGS...]\n")
		fs.PrintDefaults()
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "govmm exec: %v\n", err)
		return machine.ExitUsage
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	argv := fs.Args()
	if err := f.checkExec(argv); err != nil {
		fmt.Fprintf(stderr, "govmm exec: %v\n", err)
		return machine.ExitUsage
	}
	cfg, err := f.config(stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "govmm exec: %v\n", err)
		return machine.ExitUsage
	}
	rootfs, rwdirs, err := f.dirs()
	if err != nil {
		fmt.Fprintf(stderr, "govmm exec: %v\n", err)
		return machine.ExitUsage
	}

	sess := newExecSession(stdout, stderr)
	err = f.rootfsConfig(&cfg, rootfs, rwdirs, argv, false)
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	cfg.VirtioConsole = true
	cfg.VirtioConsoleOut = sess
	if f.verbose {
		cfg.Console = io.MultiWriter(sess.klog, cfg.Log)
	} else {
		cfg.Console = sess.klog
	}
	plan, closeNets, err := f.plan(&cfg)
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	defer closeNets()
	return sess.boot(plan, f, stdin, stderr)
}

// dirs returns -rootfs and the -rwdir directories as absolute paths with
// symbolic links resolved (the guest mounts each -rwdir at that path) and
// refuses a -rwdir given twice. A missing directory is left for rootfsConfig
// to report.
func (f *runFlags) dirs() (string, []string, error) {
	rootfs, err := realPath(f.rootfs)
	if err != nil {
		return "", nil, err
	}
	var rw []string
	seen := map[string]string{}
	for _, d := range f.rwdirs {
		p, err := realPath(d)
		if err != nil {
			return "", nil, err
		}
		if p == "/" {
			return "", nil, fmt.Errorf("-rwdir %s: the whole root cannot be read-write (use -share)", d)
		}
		if prev, dup := seen[p]; dup {
			return "", nil, fmt.Errorf("-rwdir %s: the same directory as -rwdir %s", d, prev)
		}
		seen[p] = d
		rw = append(rw, p)
	}
	return rootfs, rw, nil
}

// realPath is p absolute and, when it exists, with symbolic links resolved.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	return abs, nil
}

// rootfsConfig checks the directories and the working directory and sets
// cfg up for a guest whose /init is govmm, running argv on the rootfs: the
// shares, the initramfs made in memory, the command line. With console,
// the command runs on the kernel's console (run -rootfs) instead of the
// exec channel.
func (f *runFlags) rootfsConfig(cfg *machine.Config, rootfs string, rwdirs, argv []string, console bool) error {
	if err := checkDir("-rootfs", rootfs); err != nil {
		return err
	}
	job := guestinit.Job{Argv: argv, Env: guestinit.Environ(os.Environ()), RootTag: execRootTag, Console: console}
	cfg.Shares = append(cfg.Shares, machine.Share{Dir: rootfs, Tag: execRootTag, ReadOnly: true})
	for i, d := range rwdirs {
		if err := checkDir("-rwdir", d); err != nil {
			return err
		}
		tag := fmt.Sprintf(execRWTag, i)
		job.RW = append(job.RW, guestinit.RWDir{Tag: tag, Path: d})
		cfg.Shares = append(cfg.Shares, machine.Share{Dir: d, Tag: tag})
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("the working directory: %w", err)
	}
	if wd, err = realPath(wd); err != nil {
		return err
	}
	if job.Dir, err = guestDir(wd, rootfs, rwdirs); err != nil {
		return err
	}
	if err := job.Check(); err != nil {
		return err
	}
	self, err := selfExecutable()
	if err != nil {
		return fmt.Errorf("finding govmm's own binary for the guest's /init: %w", err)
	}
	init, err := staticELF(self)
	if err != nil {
		return err
	}
	jb, err := json.Marshal(job)
	if err != nil {
		return err
	}
	var cpio bytes.Buffer
	if err := initramfs.Write(&cpio, initramfs.Spec{Init: init, Data: map[string][]byte{guestinit.JobPath: jb}}); err != nil {
		return err
	}
	cfg.InitrdImage = cpio.Bytes()
	cfg.Cmdline = execCmdline(f.cmdline, f.verbose)
	cfg.ACPI = true
	return nil
}

// execCmdline is the kernel command line: the kernel's console on ttyS0,
// a panic ends the run (pvpanic reports it first: exit 3), and the kernel
// runs govmm from the initramfs. retain_initrd keeps the kernel from
// freeing the initramfs's pages after unpacking it, which it does by
// filling them with a poison byte: for govmm's 7 MB that takes minutes
// where ring 0 is emulated, and the pages are little to lose. Without -v,
// "quiet" keeps the boot log short: every byte on the serial port is a VM
// exit. The user's -append comes last, so that it wins.
func execCmdline(user string, verbose bool) string {
	c := "console=ttyS0 panic=-1 rdinit=/init retain_initrd"
	if !verbose {
		c += " quiet"
	}
	if user = strings.TrimSpace(user); user != "" {
		c += " " + user
	}
	return c
}

// checkDir reports a missing or non-directory -rootfs or -rwdir.
func checkDir(flag, dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, dir, pathCause(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s: not a directory", flag, dir)
	}
	return nil
}

// guestDir is where the command starts in the guest: wd itself when it is
// below a -rwdir (mounted at the same path) or when the root is the
// host's, else wd's place below -rootfs.
func guestDir(wd, rootfs string, rwdirs []string) (string, error) {
	for _, d := range rwdirs {
		if within(wd, d) {
			return wd, nil
		}
	}
	if within(wd, rootfs) {
		rel, _ := filepath.Rel(rootfs, wd)
		return filepath.Join("/", rel), nil
	}
	return "", fmt.Errorf("the working directory %s is not visible in the guest: it is outside -rootfs %s and every -rwdir", wd, rootfs)
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// staticELF reads the binary that becomes the guest's /init and refuses one
// the guest could not run: the initramfs holds no dynamic loader or libc.
func staticELF(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("govmm's own binary (the guest's /init): %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("govmm's own binary %s (the guest's /init) is not an ELF executable: %v", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("govmm's own binary %s (the guest's /init) is for %v, not x86-64", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("govmm's own binary %s is dynamically linked, so it cannot be the guest's /init: build it static (CGO_ENABLED=0, as make build does)", path)
		}
	}
	return b, nil
}

// execSession is the host's end of the channel: it decodes the guest's
// frames (it is the virtio console's writer) and feeds stdin.
type execSession struct {
	stdout, stderr io.Writer
	dec            guestinit.Decoder
	klog           *tailBuffer

	// ready is closed at FrameReady; stop when the machine is done.
	ready, stop         chan struct{}
	readyOnce, stopOnce sync.Once

	mu       sync.Mutex
	exit     *int
	guestErr string
	protoErr error
}

func newExecSession(stdout, stderr io.Writer) *execSession {
	s := &execSession{stdout: stdout, stderr: stderr, klog: newTailBuffer(kernelLogMax),
		ready: make(chan struct{}), stop: make(chan struct{})}
	s.dec.OnFrame = s.frame
	return s
}

// Write takes the guest's console output (on the virtio worker).
func (s *execSession) Write(p []byte) (int, error) {
	n, err := s.dec.Write(p)
	if err != nil {
		s.mu.Lock()
		if s.protoErr == nil {
			s.protoErr = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// frame handles one frame from the guest. Output goes straight out:
// a slow stdout holds the guest back, it is never dropped.
func (s *execSession) frame(f guestinit.Frame) {
	switch f.Type {
	case guestinit.FrameReady:
		if string(f.Payload) != guestinit.ProtocolVersion {
			s.fail(fmt.Errorf("the guest init speaks %q, this govmm %q", f.Payload, guestinit.ProtocolVersion))
			return
		}
		s.readyOnce.Do(func() { close(s.ready) })
	case guestinit.FrameStdout:
		s.stdout.Write(f.Payload)
	case guestinit.FrameStderr:
		s.stderr.Write(f.Payload)
	case guestinit.FrameExit:
		code, err := guestinit.ExitCode(f.Payload)
		if err != nil {
			s.fail(err)
			return
		}
		s.mu.Lock()
		s.exit = &code
		s.mu.Unlock()
	case guestinit.FrameError:
		s.mu.Lock()
		s.guestErr = string(f.Payload)
		s.mu.Unlock()
	}
}

func (s *execSession) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.protoErr == nil {
		s.protoErr = err
	}
}

// feed sends stdin to the guest once it is ready, then stdin's end. The
// console takes at most its backlog (64 KiB) at a time: the rest is
// offered again until it fits, never dropped.
func (s *execSession) feed(in io.Reader, input func([]byte) int) {
	select {
	case <-s.ready:
	case <-s.stop:
		return
	}
	send := func(b []byte) bool {
		wait := time.Millisecond
		for len(b) > 0 {
			select {
			case <-s.stop:
				return false
			default:
			}
			n := input(b)
			b = b[n:]
			if n > 0 {
				wait = time.Millisecond
				continue
			}
			time.Sleep(wait)
			wait = min(2*wait, 50*time.Millisecond)
		}
		return true
	}
	if in != nil {
		buf := make([]byte, 32<<10)
		for {
			n, err := in.Read(buf)
			if n > 0 && !send(guestinit.AppendFrame(nil, guestinit.FrameStdin, buf[:n])) {
				return
			}
			if err != nil {
				break
			}
		}
	}
	send(guestinit.AppendFrame(nil, guestinit.FrameStdinEOF, nil))
}

// boot runs the machine (like run's boot, without a terminal: stdin is
// data for the command) and returns the exit code.
func (s *execSession) boot(plan *machine.Plan, f runFlags, stdin *os.File, stderr io.Writer) int {
	m, err := machine.NewFromPlan(plan)
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	ctx, cancel, gotSig := runContext(f.timeout)
	defer cancel()
	var in io.Reader
	if stdin != nil {
		in = stdin
	}
	go s.feed(in, m.VirtioConsole.Input)
	var quit shared[bool]
	res, code := runOnce(ctx, m, plan.Config(), f, &quit, gotSig, stderr, func() { s.stopOnce.Do(func() { close(s.stop) }) })
	return s.outcome(res, code, f.verbose)
}

// outcome is the exit code of govmm exec: the command's status when the
// guest reported one and powered off, else govmm's code for what went
// wrong, with the tail of the kernel's console.
func (s *execSession) outcome(res machine.Result, code int, verbose bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	why := ""
	switch {
	case code == 130 || code == 143: // stopped by the user
		return code
	case code != machine.ExitOK:
		// runOnce said what happened.
	case s.protoErr != nil:
		why, code = fmt.Sprintf("govmm exec: the guest's channel: %v", s.protoErr), machine.ExitError
	case s.guestErr != "":
		why, code = "govmm exec: "+s.guestErr, machine.ExitError
	case s.exit == nil:
		why, code = fmt.Sprintf("govmm exec: the guest ended (%s) without the command's exit status", res.Reason), machine.ExitError
	default:
		return *s.exit
	}
	if why != "" {
		fmt.Fprintln(s.stderr, why)
	}
	if !verbose {
		if t := s.klog.tail(40); t != "" {
			fmt.Fprintf(s.stderr, "govmm exec: the kernel's console (ttyS0) ends:\n%s\n", t)
		}
	}
	return code
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	// Trim only now and then: the UART writes a byte at a time.
	if len(t.b) > 2*t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// tail returns the last n lines, without carriage returns.
func (t *tailBuffer) tail(n int) string {
	t.mu.Lock()
	s := strings.ReplaceAll(string(t.b[max(0, len(t.b)-t.max):]), "\r", "")
	t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
