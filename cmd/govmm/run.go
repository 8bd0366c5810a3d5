package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/console"
	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/hostnet"
	"github.com/govmm/govmm/machine"
	"github.com/govmm/govmm/sandbox"
)

// kvmDevice is the KVM device that run and demo open; tests point it at a
// missing file to show that bad input is reported without KVM.
var kvmDevice = "/dev/kvm"

// installSandbox confines the process as the guest starts (-sandbox=on).
// Tests that run govmm in-process replace it: the filter could not be
// removed from the test binary.
var installSandbox = sandbox.InstallWith

// sandboxHelp is the help of -sandbox, for run and demo.
const sandboxHelp = "seccomp filter once the guest runs: on or off; a forbidden system call ends govmm with exit 1 (see SECURITY.md)"

// runFlags are the flags of "govmm run", spelled as QEMU spells them.
type runFlags struct {
	kernel, initrd, cmdline string
	mem                     string
	smp                     int
	timeout                 time.Duration
	stats, verbose          bool
	compat                  string
	raw, rawMode, rawAddr   string
	profile, systemMap      string
	disks                   []machine.Disk
	shares                  []machine.Share
	nets                    []hostnet.Spec
	console                 string
	rng                     bool
	acpi                    onOff
	sandbox                 onOff
	reboot                  string
	// rootfs and rwdirs boot a host directory as the root (exec.go).
	rootfs string
	rwdirs []string
	// set holds the names of the flags given on the command line.
	set map[string]bool
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kernel, "kernel", "", "Linux kernel to boot: a bzImage, or an ELF vmlinux (PVH entry)")
	fs.StringVar(&f.initrd, "initrd", "", "initial ramdisk (an uncompressed cpio boots fastest)")
	fs.StringVar(&f.cmdline, "append", "console=ttyS0", "kernel command line")
	fs.StringVar(&f.mem, "m", "256M", "guest RAM (256M, 1G; a plain number is MiB)")
	fs.IntVar(&f.smp, "smp", 1, "number of VCPUs")
	fs.DurationVar(&f.timeout, "timeout", 0, "stop the guest after this long and exit 124 (0: no limit)")
	fs.BoolVar(&f.stats, "stats", false, "print exit statistics to stderr at exit")
	fs.BoolVar(&f.verbose, "v", false, "log what govmm does to stderr")
	fs.StringVar(&f.compat, "compat", "auto", "emulated-ring-0 host fix-ups: auto, on or off")
	fs.StringVar(&f.profile, "profile", "", "sample guest RIPs 50 times a second and write a histogram to this file at exit")
	fs.StringVar(&f.systemMap, "system-map", "", "kernel System.map: name the functions in the -profile histogram")
	fs.Func("disk", "virtio-blk disk: PATH[,ro] (repeatable; /dev/vda, /dev/vdb, ...)", func(v string) error {
		d, err := parseDisk(v)
		if err == nil {
			f.disks = append(f.disks, d)
		}
		return err
	})
	fs.Func("share", "host directory served over virtio-9p: DIR[,tag=NAME][,ro] (repeatable; default tags share0, share1, ...; mount -t 9p -o trans=virtio NAME /mnt)", func(v string) error {
		sh, err := parseShare(v, len(f.shares))
		if err == nil {
			f.shares = append(f.shares, sh)
		}
		return err
	})
	fs.Func("net", netHelp, netFlag(&f.nets))
	f.registerRootfs(fs)
	fs.StringVar(&f.console, "console", "serial", "guest console on stdin/stdout: serial (ttyS0) or virtio (hvc0)")
	fs.BoolVar(&f.rng, "rng", true, "add a virtio-rng device fed from the host's getrandom")
	f.acpi = true
	fs.Var(&f.acpi, "acpi", "ACPI tables for -kernel, so the guest can power off and reboot through ACPI: on or off (the MP table is there either way)")
	f.sandbox = true
	fs.Var(&f.sandbox, "sandbox", sandboxHelp)
	fs.StringVar(&f.reboot, "reboot", "exit", "what a guest reboot does: exit (end the run, exit 0) or restart (boot the guest again)")
	fs.StringVar(&f.raw, "raw", "", "flat binary to run instead of a kernel")
	fs.StringVar(&f.rawMode, "raw-mode", "real", "CPU mode for -raw: real, long (64-bit CPL 0) or user (64-bit CPL 3, all ports open)")
	fs.StringVar(&f.rawAddr, "raw-addr", "0x10000", "load and entry address for -raw")
}

// config turns flags into a machine.Config; errors are usage errors.
func (f *runFlags) config(stdout, stderr io.Writer) (machine.Config, error) {
	var cfg machine.Config
	if (f.kernel == "") == (f.raw == "") {
		return cfg, errors.New("give exactly one of -kernel and -raw")
	}
	if f.raw != "" && f.initrd != "" {
		return cfg, errors.New("-initrd needs -kernel")
	}
	if f.raw != "" && f.set["append"] {
		return cfg, errors.New("-append needs -kernel")
	}
	for _, name := range []string{"raw-mode", "raw-addr"} {
		if f.kernel != "" && f.set[name] {
			return cfg, fmt.Errorf("-%s needs -raw", name)
		}
	}
	if f.smp < 1 {
		return cfg, fmt.Errorf("-smp %d: need at least 1 CPU", f.smp)
	}
	mem, err := parseSize(f.mem)
	if err != nil {
		return cfg, err
	}
	mode, err := machine.ParseRawMode(f.rawMode)
	if err != nil {
		return cfg, err
	}
	addr, err := parseAddr("-raw-addr", f.rawAddr)
	if err != nil {
		return cfg, err
	}
	cm, err := compat.ParseMode(f.compat)
	if err != nil {
		return cfg, err
	}
	if f.systemMap != "" && f.profile == "" {
		return cfg, errors.New("-system-map goes with -profile")
	}
	if f.console != "serial" && f.console != "virtio" {
		return cfg, fmt.Errorf("-console %q: not serial or virtio", f.console)
	}
	if f.timeout < 0 {
		return cfg, fmt.Errorf("-timeout %v: must not be negative", f.timeout)
	}
	switch f.reboot {
	case "exit":
	case "restart":
		if f.raw != "" {
			return cfg, errors.New("-reboot restart needs -kernel")
		}
	default:
		return cfg, fmt.Errorf("-reboot %q: not exit or restart", f.reboot)
	}
	if f.raw != "" && f.set["acpi"] && bool(f.acpi) {
		return cfg, errors.New("-acpi needs -kernel")
	}
	if err := f.checkShares(); err != nil {
		return cfg, err
	}
	cfg = machine.Config{
		MemSize: mem, CPUs: f.smp,
		Kernel: f.kernel, Initrd: f.initrd, Cmdline: f.cmdline,
		Raw: f.raw, RawMode: mode, RawAddr: addr,
		Console: stdout, Compat: cm, Stats: f.stats, Profile: f.profile != "",
		Disks: f.disks, Shares: f.shares, Nets: netConfigs(f.nets), VirtioConsole: f.console == "virtio", RNG: f.rng && f.kernel != "",
		ACPI:    bool(f.acpi) && f.kernel != "",
		KVMPath: kvmDevice,
	}
	if f.verbose {
		cfg.Log = stderr
	}
	if f.sandbox {
		cfg.BeforeRun = f.sandboxInstaller()
	}
	return cfg, nil
}

// runCmd checks in three stages, each before anything is created: the
// command line (exit 2), then the files (machine.Config.Plan and the
// -profile outputs, exit 1), and only then opens KVM and boots.
func runCmd(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("govmm run")
	var f runFlags
	f.register(fs)
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	err := f.checkRootfs()
	var cfg machine.Config
	if err == nil {
		cfg, err = f.config(stdout, stderr)
	}
	var rootfs string
	var rwdirs []string
	if err == nil && f.rootfs != "" {
		rootfs, rwdirs, err = f.dirs()
	}
	if err != nil {
		fmt.Fprintf(stderr, "govmm run: %v\n", err)
		return machine.ExitUsage
	}
	if f.rootfs != "" { // an interactive shell on the host's files (exec.go)
		err = f.rootfsConfig(&cfg, rootfs, rwdirs, []string{"/bin/sh"}, true)
	}
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	plan, closeNets, err := f.plan(&cfg)
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	defer closeNets()
	return boot(plan, f, stdin, stderr)
}

// plan opens the -net backends (once for the whole run), plans cfg and
// checks the -profile files. On error nothing stays open; otherwise the
// caller runs the returned function when the run is over.
func (f *runFlags) plan(cfg *machine.Config) (*machine.Plan, func(), error) {
	closeNets, err := openNets(cfg, bool(f.sandbox))
	if err != nil {
		return nil, nil, err
	}
	plan, err := cfg.Plan()
	if err == nil {
		err = f.checkProfileFiles()
	}
	if err != nil {
		closeNets()
		return nil, nil, err
	}
	return plan, closeNets, nil
}

// checkProfileFiles makes sure the -profile histogram can be written at exit
// and the -system-map read, leaving nothing behind.
func (f *runFlags) checkProfileFiles() error {
	if f.profile != "" {
		if err := checkCreatable(f.profile); err != nil {
			return fmt.Errorf("-profile %s: %w", f.profile, err)
		}
	}
	if f.systemMap != "" {
		if err := checkReadable(f.systemMap); err != nil {
			return fmt.Errorf("-system-map %s: %w", f.systemMap, err)
		}
	}
	return nil
}

// checkCreatable reports whether path can be written at exit. An existing
// regular file is opened for writing and closed, unchanged; a new one is
// created and removed again, so that nothing is left behind if the run
// fails before it writes the file.
func checkCreatable(path string) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return errors.New("is a directory")
	case err == nil && !st.Mode().IsRegular():
		return unix.Access(path, unix.W_OK) // opening a FIFO would block
	case err == nil:
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return pathCause(err)
		}
		return f.Close()
	case !errors.Is(err, os.ErrNotExist):
		return pathCause(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create it: %w", pathCause(err))
	}
	f.Close()
	return os.Remove(path)
}

// checkReadable reports whether path is a file that can be read.
func checkReadable(path string) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return pathCause(err)
	case st.IsDir():
		return errors.New("is a directory")
	}
	return unix.Access(path, unix.R_OK)
}

// pathCause strips the operation and path from a *PathError: the caller's
// message already names the file.
func pathCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// boot builds the machine from plan, wires the console and signals, runs it
// and reports the outcome. With -reboot restart, a guest reset builds a new
// machine from the same plan and boots it again (RAM and devices start
// fresh; disk files keep what was written), all within one -timeout. It
// returns the exit code.
func boot(plan *machine.Plan, f runFlags, stdin *os.File, stderr io.Writer) int {
	m, err := machine.NewFromPlan(plan)
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	// current is the machine now running: console input goes to it.
	var current shared[*machine.Machine]
	current.store(m)

	ctx, cancel, gotSig := runContext(f.timeout)
	defer cancel()
	var quit shared[bool]
	if stdin != nil {
		sink := func(p []byte) int {
			m := current.load()
			if m == nil { // between two boots: the keystrokes are dropped
				return len(p)
			}
			if m.VirtioConsole != nil {
				return m.VirtioConsole.Input(p)
			}
			return m.UART.Input(p)
		}
		restore, err := console.Start(stdin, sink, func() { quit.store(true); cancel() })
		if err != nil {
			m.Close()
			fmt.Fprintf(stderr, "govmm: stdin: %v\n", err)
			return machine.ExitError
		}
		defer restore()
	}

	for n := 1; ; n++ {
		res, code := runOnce(ctx, m, plan.Config(), f, &quit, gotSig, stderr, func() { current.store(nil) })
		if !res.Reset || f.reboot != "restart" || ctx.Err() != nil {
			return code
		}
		if m, err = machine.NewFromPlan(plan); err != nil {
			fmt.Fprintf(stderr, "govmm: restarting after the guest reset: %v\n", err)
			return machine.ExitError
		}
		current.store(m)
		fmt.Fprintf(stderr, "govmm: %s: booting again (-reboot restart, boot %d)\n", res.Reason, n+1)
	}
}

// runContext is the context a run ends with: cancelled by -timeout (when
// not zero) and by SIGINT or SIGTERM, which end the run like a power cut,
// but through Close, so disks are flushed; gotSig then holds the signal
// (the exit code is 128 + its number). cancel also stops the signal
// watch.
func runContext(timeout time.Duration) (ctx context.Context, cancel func(), gotSig *shared[syscall.Signal]) {
	ctx, cancelCtx := context.WithCancel(context.Background())
	if timeout > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, timeout)
		cancelBoth := cancelCtx
		cancelCtx = func() { cancelTimeout(); cancelBoth() }
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	gotSig = &shared[syscall.Signal]{}
	go func() {
		if s, ok := <-sigs; ok {
			gotSig.store(s.(syscall.Signal))
			cancelCtx()
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancelCtx() }, gotSig
}

// runOnce runs m until it ends, reports the outcome (-stats, -profile, the
// result line), closes m and returns the result and the exit code.
// detach is called before m is closed, so that console input stops
// reaching it.
func runOnce(ctx context.Context, m *machine.Machine, cfg machine.Config, f runFlags, quit *shared[bool], gotSig *shared[syscall.Signal], stderr io.Writer, detach func()) (machine.Result, int) {
	defer m.Close()
	prof, err := openProfile(f.profile, f.systemMap)
	if err != nil {
		fmt.Fprintf(stderr, "govmm: -profile: %v\n", err)
		detach()
		return machine.Result{Code: machine.ExitError, Reason: err.Error()}, machine.ExitError
	}
	res := m.Run(ctx)
	if res.Code == machine.ExitInterrupt {
		if quit.load() {
			res = machine.Result{Code: machine.ExitOK, Reason: "quit (Ctrl-A x)"}
		} else if s := gotSig.load(); s != 0 {
			res.Code = 128 + int(s)
			res.Reason = "stopped by " + strings.ToUpper(unixSignalName(s))
		}
	}
	if cfg.Stats {
		m.WriteStats(stderr)
	}
	if prof != nil {
		if err := prof.write(m); err != nil {
			fmt.Fprintf(stderr, "govmm: -profile: %v\n", err)
		}
	}
	if res.Code != machine.ExitOK || cfg.Log != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", res)
	}
	detach()
	if err := m.Close(); err != nil {
		fmt.Fprintf(stderr, "govmm: closing the VM: %v\n", err)
		if res.Code == machine.ExitOK {
			return res, machine.ExitError
		}
	}
	return res, res.Code
}

func unixSignalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "sigint"
	case syscall.SIGTERM:
		return "sigterm"
	}
	return s.String()
}

// profileFiles are the -profile output and the -system-map, opened before
// the run: the sandbox forbids opening files once the guest runs.
type profileFiles struct{ out, systemMap *os.File }

// openProfile opens the -profile files; nil when there is no -profile.
func openProfile(path, systemMap string) (*profileFiles, error) {
	if path == "" {
		return nil, nil
	}
	p := &profileFiles{}
	var err error
	if systemMap != "" {
		if p.systemMap, err = os.Open(systemMap); err != nil {
			return nil, fmt.Errorf("-system-map: %w", err)
		}
	}
	if p.out, err = os.Create(path); err != nil {
		if p.systemMap != nil {
			p.systemMap.Close()
		}
		return nil, err
	}
	return p, nil
}

// write writes the RIP histogram and closes the files.
func (p *profileFiles) write(m *machine.Machine) error {
	var systemMap io.Reader
	if p.systemMap != nil {
		systemMap = p.systemMap
		defer p.systemMap.Close()
	}
	if err := m.WriteProfile(p.out, systemMap); err != nil {
		p.out.Close()
		return err
	}
	return p.out.Close()
}

// parseDisk parses a -disk value: PATH or PATH,ro.
func parseDisk(v string) (machine.Disk, error) {
	path, opts, _ := strings.Cut(v, ",")
	if path == "" {
		return machine.Disk{}, errors.New("no path (PATH[,ro])")
	}
	d := machine.Disk{Path: path}
	switch opts {
	case "":
	case "ro":
		d.ReadOnly = true
	default:
		return machine.Disk{}, fmt.Errorf("unknown option %q (PATH[,ro])", opts)
	}
	return d, nil
}

// parseShare parses a -share value, DIR[,tag=NAME][,ro]; the n-th -share
// (from 0) is tagged share<n> unless it names its tag.
func parseShare(v string, n int) (machine.Share, error) {
	parts := strings.Split(v, ",")
	sh := machine.Share{Dir: parts[0], Tag: fmt.Sprintf("share%d", n)}
	if sh.Dir == "" {
		return sh, errors.New("no directory (DIR[,tag=NAME][,ro])")
	}
	for _, o := range parts[1:] {
		switch tag, isTag := strings.CutPrefix(o, "tag="); {
		case o == "ro":
			sh.ReadOnly = true
		case isTag:
			if err := virtio.CheckNinePTag(tag); err != nil {
				return sh, fmt.Errorf("tag=%q: a tag is 1 to %d bytes, without NUL", tag, virtio.NinePMaxTagLen)
			}
			sh.Tag = tag
		default:
			return sh, fmt.Errorf("unknown option %q (DIR[,tag=NAME][,ro])", o)
		}
	}
	return sh, nil
}

// sandboxInstaller returns the BeforeRun that installs the seccomp filter:
// with shares (-share, -rootfs, govmm exec) it also allows the file system
// calls of the 9P server (sandbox.FileServer), which opens host files while
// the guest runs.
func (f *runFlags) sandboxInstaller() func() error {
	var extra []sandbox.Rule
	if len(f.shares) > 0 || f.rootfs != "" {
		extra = append(extra, sandbox.FileServer...)
	}
	if f.reboot == "restart" {
		extra = append(extra, sandbox.Restart...) // a new VM per boot
	}
	return func() error { return installSandbox(extra...) }
}

// checkShares refuses a mount tag given twice.
func (f *runFlags) checkShares() error {
	tags := map[string]bool{}
	for _, sh := range f.shares {
		if tags[sh.Tag] {
			return fmt.Errorf("-share %s: tag=%s is given twice", sh.Dir, sh.Tag)
		}
		tags[sh.Tag] = true
	}
	return nil
}
