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
	"github.com/govmm/govmm/machine"
)

// kvmDevice is the KVM device that run and demo open; tests point it at a
// missing file to show that bad input is reported without KVM.
var kvmDevice = "/dev/kvm"

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
	console                 string
	rng                     bool
	acpi                    onOff
	reboot                  string
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
	fs.StringVar(&f.console, "console", "serial", "guest console on stdin/stdout: serial (ttyS0) or virtio (hvc0)")
	fs.BoolVar(&f.rng, "rng", true, "add a virtio-rng device fed from the host's getrandom")
	f.acpi = true
	fs.Var(&f.acpi, "acpi", "ACPI tables for -kernel, so the guest can power off and reboot through ACPI: on or off (the MP table is there either way)")
	fs.StringVar(&f.reboot, "reboot", "exit", "what a guest reboot does: exit (end the run, exit 0); restart is not supported yet")
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
		return cfg, errors.New("-reboot restart: not supported yet (it needs a machine reset); use -reboot exit")
	default:
		return cfg, fmt.Errorf("-reboot %q: not exit or restart", f.reboot)
	}
	if f.raw != "" && f.set["acpi"] && bool(f.acpi) {
		return cfg, errors.New("-acpi needs -kernel")
	}
	cfg = machine.Config{
		MemSize: mem, CPUs: f.smp,
		Kernel: f.kernel, Initrd: f.initrd, Cmdline: f.cmdline,
		Raw: f.raw, RawMode: mode, RawAddr: addr,
		Console: stdout, Compat: cm, Stats: f.stats, Profile: f.profile != "",
		Disks: f.disks, VirtioConsole: f.console == "virtio", RNG: f.rng && f.kernel != "",
		ACPI:    bool(f.acpi) && f.kernel != "",
		KVMPath: kvmDevice,
	}
	if f.verbose {
		cfg.Log = stderr
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
	cfg, err := f.config(stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "govmm run: %v\n", err)
		return machine.ExitUsage
	}
	plan, err := cfg.Plan()
	if err == nil {
		err = f.checkProfileFiles()
	}
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	return boot(plan, f, stdin, stderr)
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
// and reports the outcome. It returns the exit code.
func boot(plan *machine.Plan, f runFlags, stdin *os.File, stderr io.Writer) int {
	timeout := f.timeout
	cfg := plan.Config()
	m, err := machine.NewFromPlan(plan)
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	defer m.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// SIGINT and SIGTERM end the run like a power cut, but through Close,
	// so disks are flushed; the exit code is 128 + the signal number.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var gotSig shared[syscall.Signal]
	go func() {
		if s, ok := <-sigs; ok {
			gotSig.store(s.(syscall.Signal))
			cancel()
		}
	}()
	var quit shared[bool]
	if stdin != nil {
		sink := m.UART.Input
		if m.VirtioConsole != nil {
			sink = m.VirtioConsole.Input
		}
		restore, err := console.Start(stdin, sink, func() { quit.store(true); cancel() })
		if err != nil {
			fmt.Fprintf(stderr, "govmm: stdin: %v\n", err)
			return machine.ExitError
		}
		defer restore()
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
	if f.profile != "" {
		if err := writeProfile(m, f.profile, f.systemMap); err != nil {
			fmt.Fprintf(stderr, "govmm: -profile: %v\n", err)
		}
	}
	if res.Code != machine.ExitOK || cfg.Log != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", res)
	}
	if err := m.Close(); err != nil {
		fmt.Fprintf(stderr, "govmm: closing the VM: %v\n", err)
		if res.Code == machine.ExitOK {
			return machine.ExitError
		}
	}
	return res.Code
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

// writeProfile writes the RIP histogram to path.
func writeProfile(m *machine.Machine, path, systemMap string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := m.WriteProfile(out, systemMap); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
