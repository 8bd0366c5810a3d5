// Command govmm-bench measures govmm against a reference in the same run and
// prints one table (issue 5):
//
//  1. PIO exit round trip: machine package in-process vs bench/ref/pio (C).
//  2. Virtqueue kick: a CPL-3 guest writing virtio-blk's real notify
//     register (KVM_IOEVENTFD) vs bench/ref/mmiokick (C, same store).
//  3. Start-up: exec to the first serial byte of the same real-mode guest,
//     govmm vs QEMU microvm (the guest is QEMU's firmware).
//  4. Memory overhead: RSS minus the guest RAM mapping's RSS, govmm vs QEMU
//     microvm, both running the same spinning real-mode guest.
//  5. virtio-blk sequential read: the blkbench guest vs dd on the host.
//  6. Linux boot to "Run /init": PVH vs bzImage, both with govmm.
//  7. The test kernel to user space and to exit, govmm vs QEMU microvm
//     (7a) and pc (7b): same kernel, initramfs, command line, 512 MiB,
//     1 vCPU; with govmm's exit counts and KVM's own for both.
//  8. The same with Debian's stock cloud kernel and a busybox /init.
//  9. Memory overhead over a whole test-kernel boot, govmm vs QEMU microvm.
//  10. Guest→host TCP throughput over a tap, govmm vs QEMU pc's user-space
//     virtio-net (vhost=off): same kernel, busybox initramfs, 256 MiB RAM, 1
//     vCPU; with govmm's exits per MiB.
//
// Rows 7 to 10 run on this machine's KVM when it runs guest ring 0 in
// hardware, and on the nested test host (govmm-nested: this program runs
// again inside one L1 boot with -in-l1, so every VMM sees the same host).
//
// Usage (from the repository; make bench runs it):
//
//	go run ./bench/cmd/govmm-bench [-quick] [-kernel-dir DIR] [-stock-dir DIR] [-nested BIN] [-govmm BIN] [-initramfs F] [-build-dir D] [-rows 1,2,6] [-boot-runs 5] [-mem-runs 3] [-net-mib 64] [-net-runs 3]
//
// -quick runs every row with tiny sizes and skips the kernel boots: make
// test runs it (TestQuickSuite) so the suite cannot rot. Progress goes to
// stderr, the table to stdout. The exit status is non-zero only when a
// measurement broke, never because a number missed its goal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govmm/govmm/bench"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// suite is one run of the benchmark suite.
type suite struct {
	quick     bool
	root      string // repository root
	build     string // where binaries and scratch files go
	kernelDir string
	initramfs string
	govmm     string // the govmm binary
	ref       string // directory of the C reference programs
	blkbench  string // the blkbench guest image
	qemu      string // qemu-system-x86_64, or "" when not available
	qemuWhy   string // why qemu is "" (for the notes)
	noInstall bool
	only      map[string]bool // -rows: the rows to run (all when nil)

	stockDir      string        // Debian's stock kernel and busybox (rows 8)
	nested        string        // govmm-nested (rows 7-10 on the nested host)
	nestedTimeout time.Duration // bound of the one L1 boot
	bootRuns      int           // runs of each VMM in rows 7 and 8
	memRuns       int           // runs of each VMM in row 9
	netMiB        int           // MiB each run of row 10 sends
	netRuns       int           // runs of each VMM in row 10
	inL1          bool          // running inside the nested host's L1

	log   io.Writer
	rows  []bench.Row
	fails []error
	start time.Time
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("govmm-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := &suite{log: stderr, start: time.Now()}
	fs.BoolVar(&s.quick, "quick", false, "tiny sizes, no kernel boots: checks that every row still runs")
	fs.StringVar(&s.kernelDir, "kernel-dir", "", "directory with bzImage and vmlinux for row 6 (scripts/build-kernel.sh prints it)")
	fs.StringVar(&s.initramfs, "initramfs", "", "initramfs for row 6 (default: build/initramfs.cpio, else KERNEL-DIR/initramfs.cpio, else one built here)")
	fs.StringVar(&s.govmm, "govmm", "", "govmm binary for rows 3, 4 and 6 (default: make build into the build directory)")
	fs.StringVar(&s.build, "build-dir", "", "directory for binaries and scratch files (default: ROOT/build)")
	fs.BoolVar(&s.noInstall, "no-install", false, "do not apt-get install qemu-system-x86 when it is missing")
	fs.StringVar(&s.stockDir, "stock-dir", "", "Debian's stock kernel directory for rows 8 and 10 (busybox; scripts/fetch-stock-kernel.sh prints it)")
	fs.StringVar(&s.nested, "nested", "", "govmm-nested binary for rows 7-10 on the nested test host (default: BUILD-DIR/govmm-nested)")
	fs.DurationVar(&s.nestedTimeout, "nested-timeout", 50*time.Minute, "bound of the L1 boot that runs rows 7-10")
	fs.IntVar(&s.bootRuns, "boot-runs", 5, "runs of each VMM and kernel in rows 7 and 8 (alternated)")
	fs.IntVar(&s.memRuns, "mem-runs", 3, "runs of each VMM in row 9")
	fs.IntVar(&s.netMiB, "net-mib", 64, "MiB the guest sends in each run of row 10 (10 to 20 s per run on the nested host)")
	fs.IntVar(&s.netRuns, "net-runs", 3, "runs of each VMM in row 10 (alternated)")
	fs.BoolVar(&s.inL1, "in-l1", false, "internal: run rows 7-10 here and print them as result lines (the nested host's L1)")
	fs.Func("rows", "comma-separated rows to run, e.g. 1,2,6 (default: all)", func(v string) error {
		s.only = map[string]bool{}
		for _, r := range strings.Split(v, ",") {
			r = strings.TrimSpace(r)
			if n, err := strconv.Atoi(r); err != nil || n < 1 || n > 10 || strconv.Itoa(n) != r {
				return fmt.Errorf("row %q: rows are 1 to 10", r)
			}
			s.only[r] = true
		}
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "govmm-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if s.bootRuns < 1 || s.memRuns < 1 || s.netRuns < 1 || s.netMiB < 1 {
		fmt.Fprintf(stderr, "govmm-bench: -boot-runs, -mem-runs, -net-runs and -net-mib must be at least 1\n")
		return 2
	}
	if err := s.prepare(); err != nil {
		fmt.Fprintf(stderr, "govmm-bench: %v\n", err)
		return 1
	}
	for _, r := range []struct {
		id  string
		run func()
	}{{"1", s.rowPIO}, {"2", s.rowKick}, {"3", s.rowStartup}, {"4", s.rowMemory}, {"5", s.rowBlock}, {"6", s.rowBoot}} {
		if s.want(r.id) {
			r.run()
		}
	}
	if s.want("7") || s.want("8") || s.want("9") || s.want("10") {
		s.vsQEMU()
	}
	if s.inL1 {
		// The outer run prints the table: hand it the rows.
		if err := writeL1Rows(stdout, s.rows); err != nil {
			fmt.Fprintf(stderr, "govmm-bench: %v\n", err)
			return 1
		}
		if len(s.fails) > 0 {
			return 1
		}
		return 0
	}

	mode := "full"
	if s.quick {
		mode = "-quick (tiny sizes: the numbers mean nothing)"
	}
	fmt.Fprintf(stdout, "govmm-bench %s, %s, %s; ratio = govmm / reference (each row's notes say what is divided)\n",
		time.Now().Format("2006-01-02 15:04 MST"), mode, hostSummary())
	if err := bench.WriteTable(stdout, s.rows); err != nil {
		fmt.Fprintf(stderr, "govmm-bench: %v\n", err)
		return 1
	}
	s.progress("done in %v", time.Since(s.start).Round(time.Second))
	if len(s.fails) > 0 {
		for _, err := range s.fails {
			fmt.Fprintf(stderr, "govmm-bench: FAILED: %v\n", err)
		}
		return 1
	}
	return 0
}

// progress prints one line to stderr, stamped with the time since start.
func (s *suite) progress(format string, args ...any) {
	fmt.Fprintf(s.log, "bench [%5.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

// want reports whether row id was selected (-rows).
func (s *suite) want(id string) bool { return s.only == nil || s.only[id] }

// add appends a row.
func (s *suite) add(r bench.Row) { s.rows = append(s.rows, r) }

// broke records a row that could not be measured: the table says so and
// the suite exits 1.
func (s *suite) broke(id, name string, err error) {
	s.progress("row %s FAILED: %v", id, err)
	s.fails = append(s.fails, fmt.Errorf("row %s (%s): %w", id, name, err))
	s.add(bench.Row{ID: id, Name: name, Govmm: "ERROR", Ref: "-", Ratio: "-", Notes: firstLine(err.Error())})
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// prepare finds the repository, builds govmm, the C references and the
// blkbench guest, and finds (or installs) QEMU.
func (s *suite) prepare() error {
	root, err := findRoot()
	if err != nil {
		return err
	}
	s.root = root
	if s.build == "" {
		s.build = filepath.Join(root, "build")
	}
	if s.build, err = filepath.Abs(s.build); err != nil {
		return err
	}
	benchDir := filepath.Join(s.build, "bench")
	if err := os.MkdirAll(benchDir, 0o755); err != nil {
		return err
	}
	if s.govmm == "" {
		s.govmm = filepath.Join(s.build, "govmm")
		// make build: the Makefile's flags (GOLDFLAGS) are the release's.
		s.progress("building %s (make build BUILD=%s)", s.govmm, s.build)
		if err := s.cmd(5*time.Minute, root, "make", "-s", "build", "BUILD="+s.build); err != nil {
			return err
		}
	} else if s.govmm, err = filepath.Abs(s.govmm); err != nil {
		return err
	}
	s.ref = filepath.Join(s.build, "ref")
	if s.want("1") || s.want("2") {
		s.progress("building the C references into %s (make -C bench/ref)", s.ref)
		if err := s.cmd(2*time.Minute, root, "make", "-s", "-C", "bench/ref", "OUT="+s.ref); err != nil {
			return err
		}
	}
	if s.want("2") || s.want("5") {
		s.progress("building the blkbench guest (gcc testdata/guests/blkbench)")
		if s.blkbench, err = bench.BuildBlkbench(root, benchDir); err != nil {
			return err
		}
	}
	s.findQEMU()
	return nil
}

// cmd runs a preparation command, its output going to the progress log.
func (s *suite) cmd(limit time.Duration, dir, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// findQEMU looks for qemu-system-x86_64, installing Debian's
// qemu-system-x86 in a full run when it is missing.
func (s *suite) findQEMU() {
	const bin = "qemu-system-x86_64"
	if p, err := exec.LookPath(bin); err == nil {
		s.qemu = p
		return
	}
	switch {
	case s.quick:
		s.qemuWhy = "QEMU not installed (-quick does not install it)"
		return
	case s.noInstall:
		s.qemuWhy = "QEMU not installed (-no-install)"
		return
	}
	s.progress("QEMU is the reference of rows 3, 4 and 7-10 and is missing: apt-get install -y qemu-system-x86 (a few minutes)")
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	install := func() error {
		c := exec.Command("apt-get", "install", "-y", "-q", "qemu-system-x86")
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, tail(string(out), 300))
		}
		return nil
	}
	err := install()
	if err != nil {
		s.progress("apt-get install failed (%v); running apt-get update and trying again", firstLine(err.Error()))
		c := exec.Command("apt-get", "update", "-q")
		c.Env = env
		if out, uerr := c.CombinedOutput(); uerr != nil {
			err = fmt.Errorf("apt-get update: %v: %s", uerr, tail(string(out), 300))
		} else {
			err = install()
		}
	}
	if err != nil {
		s.qemuWhy = "QEMU could not be installed: " + firstLine(err.Error())
		s.progress("%s", s.qemuWhy)
		return
	}
	if p, lerr := exec.LookPath(bin); lerr == nil {
		s.qemu = p
		s.progress("installed %s", p)
		return
	}
	s.qemuWhy = "qemu-system-x86 installed but " + bin + " not found"
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// findRoot walks up from the working directory to the go.mod of
// github.com/govmm/govmm.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/govmm/govmm\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the govmm repository (no go.mod of github.com/govmm/govmm above the working directory)")
		}
		dir = parent
	}
}

// hostSummary names the CPU count and the load, for reading noisy numbers.
func hostSummary() string {
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	kvm := "KVM"
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		kvm = "kvm_pvm (guest ring 0 emulated)"
	}
	return fmt.Sprintf("%d CPUs, load %s, %s", numCPU(), load, kvm)
}
