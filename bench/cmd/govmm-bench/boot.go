package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/govmm/govmm/bench"
)

// runInitLine is the console line row 6 times.
const runInitLine = "Run /init as init process"

// bootMilestones are console lines reported as progress while a boot runs.
var bootMilestones = []string{"Linux version", "Unpacking initramfs", runInitLine}

// timeoutExit is govmm's exit code when -timeout expires.
const timeoutExit = 124

// errTimeout reports a boot that did not reach its marker within -timeout.
var errTimeout = errors.New("govmm -timeout expired before the marker")

// boot is one govmm process watched for a console marker.
type boot struct {
	label  string
	args   []string
	marker string
	// Filled in by watch.
	markerAt time.Duration // 0: never seen
	lastLine atomic.Value  // string: the latest console line, for progress
	elapsed  time.Duration
	code     int
	exits    map[string]uint64
	console  string
	stderr   string
}

// watch runs govmm with b.args, stamps the console lines, and after the
// marker lets the run finish on its own (the test /init segfaults, the
// kernel panics, pvpanic ends the run) for at most grace, then stops it
// with SIGTERM, which still prints -stats. limit bounds the whole run.
func (s *suite) watch(b *boot, limit, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit+grace+30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, s.govmm, b.args...)
	var errb bytes.Buffer
	c.Stderr = &errb
	out, err := c.StdoutPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.Start(); err != nil {
		return err
	}
	var con strings.Builder
	seen := map[string]bool{}
	var term *time.Timer
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		con.WriteString(line + "\n")
		b.lastLine.Store(line)
		for _, m := range append(bootMilestones, b.marker) {
			if !seen[m] && strings.Contains(line, m) {
				seen[m] = true
				s.progress("row 6: %s: %q after %v", b.label, m, time.Since(start).Round(100*time.Millisecond))
			}
		}
		if b.markerAt == 0 && strings.Contains(line, b.marker) {
			b.markerAt = time.Since(start)
			term = time.AfterFunc(grace, func() { c.Process.Signal(syscall.SIGTERM) })
		}
	}
	io.Copy(io.Discard, out)
	werr := c.Wait()
	if term != nil {
		term.Stop()
	}
	b.elapsed = time.Since(start)
	b.console, b.stderr = con.String(), errb.String()
	b.code = c.ProcessState.ExitCode()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: govmm did not exit within %v; console tail: %s", b.label, limit+grace, tail(b.console, 400))
	}
	if b.markerAt == 0 && b.code == timeoutExit {
		// Slow, not broken: a loaded machine may need longer.
		b.exits, _ = bench.ExitCounts(b.stderr)
		return errTimeout
	}
	if b.markerAt == 0 {
		return fmt.Errorf("%s: no %q on the console (govmm exit %d, %v); console tail: %s; stderr: %s",
			b.label, b.marker, b.code, werr, tail(b.console, 400), tail(b.stderr, 400))
	}
	if b.exits, err = bench.ExitCounts(b.stderr); err != nil {
		return fmt.Errorf("%s: %w", b.label, err)
	}
	return nil
}

// rowBoot is row 6: a Linux boot to "Run /init as init process", PVH
// (vmlinux) against bzImage, both with govmm, both at once. In -quick it
// checks the runner on `govmm demo -stats` instead.
func (s *suite) rowBoot() {
	const id, name = "6", "Linux boot to Run /init"
	if s.quick {
		b := &boot{label: "demo", args: []string{"demo", "-stats"}, marker: "Hello from the govmm demo guest"}
		s.progress("row 6: -quick: no kernel boots; checking the boot runner on `govmm demo -stats`")
		if err := s.watch(b, time.Minute, 10*time.Second); err != nil {
			s.broke(id, name, err)
			return
		}
		s.add(bench.Row{ID: id, Name: name, Govmm: "skipped", Ref: "skipped", Ratio: "-",
			Notes: fmt.Sprintf("-quick boots no kernel; the runner was checked on `govmm demo -stats`: marker after %v, %d exits",
				b.markerAt.Round(time.Millisecond), bench.Total(b.exits))})
		return
	}
	kdir := s.kernelDir
	if kdir == "" {
		out, err := exec.Command(filepath.Join(s.root, "scripts", "build-kernel.sh"), "--print-dir").Output()
		if err == nil {
			kdir = strings.TrimSpace(string(out))
		}
	}
	bz, vm := filepath.Join(kdir, "bzImage"), filepath.Join(kdir, "vmlinux")
	for _, p := range []string{bz, vm} {
		if _, err := os.Stat(p); kdir == "" || err != nil {
			why := "no -kernel-dir given and no cached test kernel"
			if kdir != "" {
				why = fmt.Sprintf("%s missing (build it with `make kernel`)", p)
			}
			s.progress("row 6: skipped: %s", why)
			s.add(bench.Row{ID: id, Name: name, Govmm: "skipped", Ref: "skipped", Ratio: "-", Notes: why})
			return
		}
	}
	initrd, err := s.findInitramfs(kdir)
	if err != nil {
		s.broke(id, name, err)
		return
	}
	// The whole suite stays under 10 minutes: rows 1-5 take about one.
	const limit, grace = 8 * time.Minute, time.Minute
	mk := func(label, kernel string) *boot {
		return &boot{label: label, marker: runInitLine, args: []string{"run", "-kernel", kernel, "-initrd", initrd,
			"-m", "256M", "-append", "console=ttyS0 panic=-1", "-stats", "-timeout", limit.String()}}
	}
	pvh, bzi := mk("PVH (vmlinux)", vm), mk("bzImage", bz)
	s.progress("row 6: booting %s and %s at once with %s (minutes: guest ring 0 is emulated here)", vm, bz, initrd)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, b := range []*boot{pvh, bzi} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.watch(b, limit, grace)
		}()
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var at []string
				for _, b := range []*boot{pvh, bzi} {
					l, _ := b.lastLine.Load().(string)
					if len(l) > 70 {
						l = l[:70] + "..."
					}
					at = append(at, fmt.Sprintf("%s at %q", b.label, l))
				}
				s.progress("row 6: still booting: %s", strings.Join(at, "; "))
			}
		}
	}()
	wg.Wait()
	close(stop)
	var timedOut []string
	for i, err := range errs {
		switch {
		case errors.Is(err, errTimeout):
			timedOut = append(timedOut, []*boot{pvh, bzi}[i].label)
		case err != nil:
			s.broke(id, name, err)
			return
		}
	}
	show := func(b *boot) (string, float64, string) {
		if b.markerAt == 0 {
			return fmt.Sprintf("> %v", limit), 0, fmt.Sprintf("timed out after %d exits (%s)", bench.Total(b.exits), topExits(b.exits))
		}
		sec := b.markerAt.Seconds()
		return fmt.Sprintf("%.1f s", sec), sec, fmt.Sprintf("%d exits (%s), exit code %d", bench.Total(b.exits), topExits(b.exits), b.code)
	}
	pv, p, pn := show(pvh)
	bv, z, bn := show(bzi)
	notes := fmt.Sprintf("no goal; both with govmm, reference = the bzImage path; wall time to the console line %q with both boots at once on %d CPUs; govmm -stats over the whole run: PVH %s; bzImage %s",
		runInitLine, numCPU(), pn, bn)
	if len(timedOut) > 0 {
		notes += fmt.Sprintf("; TIMED OUT after %v (a loaded machine; not counted as a failure): %s", limit, strings.Join(timedOut, ", "))
	}
	s.add(bench.Row{ID: id, Name: name, Govmm: pv + " PVH", Ref: bv + " bzImage", Ratio: bench.Ratio(p, z), Notes: notes})
}

// topExits lists the exit reasons by count, largest first, at most three.
func topExits(c map[string]uint64) string {
	type kv struct {
		k string
		n uint64
	}
	var l []kv
	for k, n := range c {
		l = append(l, kv{k, n})
	}
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j].n > l[i].n || (l[j].n == l[i].n && l[j].k < l[i].k) {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	var parts []string
	for i, e := range l {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", e.k, e.n))
	}
	return strings.Join(parts, ", ")
}

// findInitramfs picks the initramfs for row 6: -initramfs, then
// build/initramfs.cpio, then the kernel directory's, else it builds one
// from testdata/init/init.c as the Makefile does.
func (s *suite) findInitramfs(kdir string) (string, error) {
	if s.initramfs != "" {
		return filepath.Abs(s.initramfs)
	}
	for _, p := range []string{filepath.Join(s.root, "build", "initramfs.cpio"), filepath.Join(kdir, "initramfs.cpio")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir := filepath.Join(s.build, "bench")
	init, cpio := filepath.Join(dir, "init"), filepath.Join(dir, "initramfs.cpio")
	s.progress("row 6: building %s from testdata/init/init.c", cpio)
	if err := s.cmd(2*time.Minute, s.root, "gcc", "-static", "-nostdlib", "-ffreestanding", "-Os", "-fno-pie", "-no-pie",
		"-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-Wl,--build-id=none", "-Wl,-z,noseparate-code",
		"-o", init, "testdata/init/init.c"); err != nil {
		return "", err
	}
	if err := s.cmd(time.Minute, s.root, s.govmm, "initramfs", "-o", cpio, "-init", init); err != nil {
		return "", err
	}
	return cpio, nil
}
