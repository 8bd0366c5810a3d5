package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/govmm/govmm/bench"
)

// guestRAM is the RAM of the guests in rows 3 and 4, govmm's default -m.
const guestRAM = 256 << 20

// Tiny raw guests for rows 3 and 4 (64-bit, run at CPL 3).
var (
	// resetGuest: mov al, 0xfe; out 0x64, al (i8042 reset: govmm exits 0).
	resetGuest = []byte{0xb0, 0xfe, 0xe6, 0x64, 0xeb, 0xfe}
	// spinGuest: jmp $ — touches nothing and never exits.
	spinGuest = []byte{0xeb, 0xfe}
)

// writeGuest writes a raw guest image into the build directory.
func (s *suite) writeGuest(name string, img []byte) (string, error) {
	p := filepath.Join(s.build, "bench", name)
	return p, os.WriteFile(p, img, 0o644)
}

// qemuArgs starts QEMU paused (-S) with the given RAM, no devices, no
// display and QMP on stdio. Its firmware never runs: with -S the vCPU does
// not start, and here it would run emulated anyway (docs/HOST-KVM.md).
func (s *suite) qemuArgs() []string {
	return []string{"-accel", "kvm", "-S", "-m", fmt.Sprintf("%dM", guestRAM>>20), "-nodefaults", "-display", "none", "-qmp", "stdio"}
}

// qemuProc is a QEMU process waiting paused after its QMP greeting.
type qemuProc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  bytes.Buffer
	greeted time.Duration // exec to the greeting line on stdout
}

// startQEMU starts QEMU and waits for its QMP greeting.
func (s *suite) startQEMU() (*qemuProc, error) {
	q := &qemuProc{cmd: exec.Command(s.qemu, s.qemuArgs()...)}
	q.cmd.Stderr = &q.stderr
	var err error
	if q.stdin, err = q.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := q.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	greeted := make(chan time.Duration, 1)
	start := time.Now()
	if err := q.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"QMP"`) {
				greeted <- time.Since(start)
				break
			}
		}
		io.Copy(io.Discard, out)
		close(greeted)
	}()
	select {
	case d, ok := <-greeted:
		if ok {
			q.greeted = d
			return q, nil
		}
		q.cmd.Wait()
		return nil, fmt.Errorf("qemu exited before its QMP greeting: %s", tail(q.stderr.String(), 300))
	case <-time.After(60 * time.Second):
		q.cmd.Process.Kill()
		q.cmd.Wait()
		return nil, fmt.Errorf("no QMP greeting from qemu within 60 s: %s", tail(q.stderr.String(), 300))
	}
}

// quit asks QEMU to quit over QMP and waits for it (killing it after 20 s).
func (q *qemuProc) quit() error {
	io.WriteString(q.stdin, "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n")
	q.stdin.Close()
	return waitOrKill(q.cmd, 20*time.Second)
}

// waitOrKill waits for a started command, killing it after limit.
func waitOrKill(c *exec.Cmd, limit time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		c.Process.Kill()
		<-done
		return fmt.Errorf("%s did not exit within %v: killed", filepath.Base(c.Path), limit)
	}
}

// rowStartup is row 3: govmm exec to exit of a guest whose first
// instructions reset it (an upper bound of exec to first guest
// instruction), against QEMU exec to its QMP greeting, paused (-S).
func (s *suite) rowStartup() {
	const id, name = "3", "start-up"
	runs := 10
	if s.quick {
		runs = 2
	}
	img, err := s.writeGuest("reset.bin", resetGuest)
	if err != nil {
		s.broke(id, name, err)
		return
	}
	args := []string{"run", "-raw", img, "-raw-mode", "user", "-m", fmt.Sprintf("%dM", guestRAM>>20)}
	govmmOnce := func() (time.Duration, error) {
		start := time.Now()
		out, err := exec.Command(s.govmm, args...).CombinedOutput()
		d := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("govmm %s: %v: %s", strings.Join(args, " "), err, tail(string(out), 300))
		}
		return d, nil
	}
	qemuOnce := func() (time.Duration, error) {
		q, err := s.startQEMU()
		if err != nil {
			return 0, err
		}
		return q.greeted, q.quit()
	}
	s.progress("row 3: start-up: one warm-up run each (not counted), then %d alternated runs", runs)
	if _, err := govmmOnce(); err != nil {
		s.broke(id, name, err)
		return
	}
	if s.qemu != "" {
		if _, err := qemuOnce(); err != nil {
			s.broke(id, name, err)
			return
		}
	}
	var g, q []float64
	for i := 1; i <= runs; i++ {
		d, err := govmmOnce()
		if err != nil {
			s.broke(id, name, err)
			return
		}
		g = append(g, float64(d.Nanoseconds()))
		if s.qemu == "" {
			continue
		}
		if d, err = qemuOnce(); err != nil {
			s.broke(id, name, err)
			return
		}
		q = append(q, float64(d.Nanoseconds()))
	}
	s.progress("row 3: govmm median %s, QEMU median %s", fmtNs(bench.Median(g)), fmtNs(bench.Median(q)))
	gm := bench.Median(g)
	row := bench.Row{ID: id, Name: name, Govmm: fmtNs(gm) + " exec→exit"}
	what := fmt.Sprintf("govmm: exec to exit of `govmm run -raw -raw-mode user -m %dM` whose guest resets at once (out 0x64, an upper bound of exec→first instruction); ", guestRAM>>20)
	if s.qemu == "" {
		row.Ref, row.Ratio = "n/a", "-"
		row.Notes = what + s.qemuWhy + fmt.Sprintf("; median of %d runs (%s)", runs, spread(g, fmtNs))
	} else {
		qm := bench.Median(q)
		row.Ref, row.Ratio = fmtNs(qm)+" exec→QMP (QEMU)", bench.Ratio(gm, qm)
		row.Notes = what + fmt.Sprintf("QEMU: exec to the QMP greeting of `%s %s` (machine built, paused, no guest code run); median of %d alternated runs; govmm %s, QEMU %s",
			filepath.Base(s.qemu), strings.Join(s.qemuArgs(), " "), runs, spread(g, fmtNs), spread(q, fmtNs))
	}
	s.add(row)
}

// readOverhead reads /proc/PID/smaps and splits the RSS into guest RAM and
// the rest.
func readOverhead(pid int) (bench.Overhead, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return bench.Overhead{}, err
	}
	defer f.Close()
	maps, err := bench.ParseSmaps(f)
	if err != nil {
		return bench.Overhead{}, err
	}
	return bench.GuestOverhead(maps, guestRAM)
}

// settle is how long a VMM runs before its smaps is read.
const settle = 700 * time.Millisecond

// govmmOverhead runs a spinning 256 MiB guest and measures its RSS.
func (s *suite) govmmOverhead(img string) (bench.Overhead, error) {
	var o bench.Overhead
	c := exec.Command(s.govmm, "run", "-raw", img, "-raw-mode", "user", "-m", fmt.Sprintf("%dM", guestRAM>>20), "-timeout", "2m")
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		return o, err
	}
	// The guest RAM is mapped before the VCPU starts: wait for it, then
	// let the run settle.
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for {
		if _, err = readOverhead(c.Process.Pid); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err == nil {
		time.Sleep(settle)
		o, err = readOverhead(c.Process.Pid)
	}
	c.Process.Signal(syscall.SIGTERM)
	werr := waitOrKill(c, 20*time.Second)
	if err != nil {
		return o, fmt.Errorf("govmm smaps: %v (govmm: %s)", err, tail(stderr.String(), 300))
	}
	// SIGTERM ends a run with 143 (README, "Exit codes").
	var ee *exec.ExitError
	if werr != nil && !(errors.As(werr, &ee) && ee.ExitCode() == 143) {
		return o, fmt.Errorf("govmm after SIGTERM: %v: %s", werr, tail(stderr.String(), 300))
	}
	return o, nil
}

// qemuOverhead measures a paused QEMU with 256 MiB of RAM.
func (s *suite) qemuOverhead() (bench.Overhead, error) {
	q, err := s.startQEMU()
	if err != nil {
		return bench.Overhead{}, err
	}
	time.Sleep(settle)
	o, err := readOverhead(q.cmd.Process.Pid)
	qerr := q.quit()
	if err != nil {
		return o, fmt.Errorf("qemu smaps: %w", err)
	}
	return o, qerr
}

// rowMemory is row 4: the VMM's own resident memory at idle, without the
// guest's RAM, govmm against QEMU.
func (s *suite) rowMemory() {
	const id, name = "4", "memory overhead (RSS − guest RAM)"
	runs := 3
	if s.quick {
		runs = 1
	}
	img, err := s.writeGuest("spin.bin", spinGuest)
	if err != nil {
		s.broke(id, name, err)
		return
	}
	var g, q []float64
	var lg, lq bench.Overhead
	for i := 1; i <= runs; i++ {
		s.progress("row 4: memory, run %d/%d: govmm with a spinning %d MiB guest", i, runs, guestRAM>>20)
		o, err := s.govmmOverhead(img)
		if err != nil {
			s.broke(id, name, err)
			return
		}
		g, lg = append(g, float64(o.VMM())), o
		if s.qemu == "" {
			continue
		}
		s.progress("row 4: memory, run %d/%d: QEMU paused (-S) with %d MiB", i, runs, guestRAM>>20)
		if o, err = s.qemuOverhead(); err != nil {
			s.broke(id, name, err)
			return
		}
		q, lq = append(q, float64(o.VMM())), o
	}
	gm := bench.Median(g)
	row := bench.Row{ID: id, Name: name, Govmm: fmtBytes(gm)}
	notes := fmt.Sprintf("goal < 5 MiB (%s); Rss summed over /proc/PID/smaps minus the Rss of the %d MiB anonymous guest RAM mapping, %v after start; govmm spins at CPL 3 (last run: total %s, guest %s, file-backed %s)",
		goal(gm < 5<<20), guestRAM>>20, settle, fmtBytes(float64(lg.TotalRss)), fmtBytes(float64(lg.GuestRss)), fmtBytes(float64(lg.FileRss)))
	if s.qemu == "" {
		row.Ref, row.Ratio = "n/a", "-"
		row.Notes = notes + "; " + s.qemuWhy
	} else {
		qm := bench.Median(q)
		row.Ref, row.Ratio = fmtBytes(qm)+" (QEMU)", bench.Ratio(gm, qm)
		row.Notes = notes + fmt.Sprintf("; QEMU paused with -S -nodefaults (last run: total %s, guest %s, file-backed %s); median of %d runs each",
			fmtBytes(float64(lq.TotalRss)), fmtBytes(float64(lq.GuestRss)), fmtBytes(float64(lq.FileRss)), runs)
	}
	s.add(row)
}

// fmtBytes formats a byte count in MiB.
func fmtBytes(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
