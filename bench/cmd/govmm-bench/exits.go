package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/govmm/govmm/bench"
	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/machine"
	"github.com/govmm/govmm/memory"
)

func numCPU() int { return runtime.NumCPU() }

// stampDevice is the port the PIO row's guest writes: it does nothing but
// note when the first and the n-th write arrived, so that the row times
// the exits alone, as bench/ref/pio does, and not VM start-up or teardown.
// Only the VCPU goroutine calls Write, and Run has returned before the
// stamps are read.
type stampDevice struct {
	n          uint32
	writes     uint32
	first, nth time.Time
}

func (*stampDevice) Read(_ uint64, data []byte) { clear(data) }
func (d *stampDevice) Write(uint64, []byte) {
	d.writes++
	switch d.writes {
	case 1:
		d.first = time.Now()
	case d.n:
		d.nth = time.Now()
	}
}

// govmmPIO runs guests.PIOLoop(n) at CPL 3 through the machine package with
// a stamping device on guests.PIOPort and returns the time per exit from
// the first OUT exit to the n-th (n-1 round trips), as bench/ref/pio counts.
func govmmPIO(n uint32) (float64, error) {
	if n < 2 {
		return 0, fmt.Errorf("PIO guest: n is %d, want at least 2", n)
	}
	m, err := machine.New(machine.Config{MemSize: 16 << 20, RawImage: guests.PIOLoop(n), RawMode: machine.RawUser})
	if err != nil {
		return 0, err
	}
	defer m.Close()
	dev := &stampDevice{n: n}
	if err := m.RegisterPIO("stamp", guests.PIOPort, 1, dev); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+time.Duration(n)*time.Millisecond)
	defer cancel()
	res := m.Run(ctx)
	if res.Code != machine.ExitOK {
		return 0, fmt.Errorf("PIO guest: %v", res)
	}
	if dev.writes != n {
		return 0, fmt.Errorf("PIO guest: %d writes to port %#x, want %d", dev.writes, guests.PIOPort, n)
	}
	return float64(dev.nth.Sub(dev.first).Nanoseconds()) / float64(n-1), nil
}

// runRef runs a C reference program with n (and extra arguments) and
// returns the value of key in its output.
func (s *suite) runRef(prog string, n uint32, key string, extra ...string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second+time.Duration(n)*time.Millisecond)
	defer cancel()
	p := filepath.Join(s.ref, prog)
	args := append([]string{strconv.FormatUint(uint64(n), 10)}, extra...)
	out, err := exec.CommandContext(ctx, p, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v: %s", p, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return bench.KeyValue(string(out), key)
}

// rowPIO is row 1: one port I/O exit, govmm against the bare C loop.
func (s *suite) rowPIO() {
	const id, name = "1", "PIO exit round trip"
	// Five rounds: on the nested host one program's time wanders by up to
	// 10% between rounds of one L1, so the ratio is taken per round (the
	// two runs of a round are seconds apart) and the median of those kept.
	n, runs := uint32(100000), 5
	if s.quick {
		n, runs = 500, 1
	}
	var g, c, ratios []float64
	for i := 1; i <= runs; i++ {
		s.progress("row 1: PIO exit, run %d/%d: govmm (machine package in-process, %d OUTs)", i, runs, n)
		v, err := govmmPIO(n)
		if err != nil {
			s.broke(id, name, err)
			return
		}
		g = append(g, v)
		s.progress("row 1: PIO exit, run %d/%d: C reference (build/ref/pio %d)", i, runs, n)
		if v, err = s.runRef("pio", n, "pio_exit_ns"); err != nil {
			s.broke(id, name, err)
			return
		}
		c = append(c, v)
		ratios = append(ratios, g[i-1]/v)
	}
	gm, cm := bench.Median(g), bench.Median(c)
	s.add(bench.Row{ID: id, Name: name,
		Govmm: fmtNs(gm) + "/exit", Ref: fmtNs(cm) + "/exit (C)", Ratio: bench.Ratio(bench.Median(ratios), 1),
		Notes: fmt.Sprintf("goal ≤ 1.05x on every host kind (issue 13): the exit is KVM's, govmm's share is the ratio; %d alternated rounds × %d OUTs (guests.PIOLoop, CPL 3; both time the first OUT exit to the last); ratio: the median of the rounds' ratios (%s); govmm %s, C %s",
			runs, n, spread(ratios, fmtRatio), spread(g, fmtNs), spread(c, fmtNs)),
	})
}

// blkRun is one in-process run of the blkbench guest.
type blkRun struct {
	elapsed time.Duration // between the guest's start and end marks
	res     bench.BlkResult
	exits   map[string]uint64
	stats   string
}

// runBlkbench runs the blkbench guest with p over disk, in-process.
func (s *suite) runBlkbench(disk string, p bench.BlkParams, memSize uint64, limit time.Duration) (blkRun, error) {
	var r blkRun
	img, err := os.ReadFile(s.blkbench)
	if err != nil {
		return r, err
	}
	m, err := machine.New(machine.Config{
		MemSize: memSize, RawImage: img, RawMode: machine.RawUser,
		Disks: []machine.Disk{{Path: disk, ReadOnly: true}}, Stats: true,
	})
	if err != nil {
		return r, err
	}
	defer m.Close()
	marks := &bench.Marks{}
	if err := m.RegisterPIO("bench-marks", bench.MarkPort, bench.MarkPortSize, marks); err != nil {
		return r, err
	}
	if err := m.Memory().Write(memory.GuestAddress(bench.ParamsAddr), p.Encode()); err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	res := m.Run(ctx)
	out := make([]byte, bench.ParamsLen())
	if err := m.Memory().Read(memory.GuestAddress(bench.ParamsAddr), out); err != nil {
		return r, err
	}
	if r.res, err = bench.DecodeBlkResult(out); err != nil {
		return r, err
	}
	if err := r.res.Err(); err != nil {
		return r, err
	}
	if res.Code != machine.ExitOK {
		return r, fmt.Errorf("blkbench guest: %v", res)
	}
	if r.elapsed, err = marks.Elapsed(); err != nil {
		return r, err
	}
	var sb strings.Builder
	m.WriteStats(&sb)
	r.stats = sb.String()
	if r.exits, err = bench.ExitCounts(r.stats); err != nil {
		return r, err
	}
	return r, nil
}

// rowKick is row 2: a virtqueue kick through KVM_IOEVENTFD. The govmm side
// is the blkbench guest writing virtio-blk's queue 0 notify register, the
// address govmm bound with KVM_IOEVENTFD (Ioeventfds()[0]), with the
// device live (DRIVER_OK), so its worker waits on the eventfd and wakes for
// kicks. The reference is bench/ref/mmiokick: the same 16-bit store in a
// bare C VM, with a thread waiting on the eventfd the way govmm's worker
// does (poll, then read). Both are also measured with nobody waiting
// (govmm before DRIVER_OK, mmiokick noreader): the notes give that pair.
func (s *suite) rowKick() {
	const id, name = "2", "virtqueue kick (ioeventfd)"
	n, runs := uint32(200000), 3
	if s.quick {
		n, runs = 1000, 1
	}
	disk := filepath.Join(s.build, "bench", "kick.img")
	if err := bench.MakeDisk(disk, 1<<20); err != nil {
		s.broke(id, name, err)
		return
	}
	defer os.Remove(disk)
	var g, idle, c, cIdle, pio []float64
	var notify uint64
	limit := 60*time.Second + time.Duration(n)*100*time.Microsecond
	kicks := func(mode uint32) (float64, error) {
		r, err := s.runBlkbench(disk, bench.BlkParams{Mode: mode, Count: uint64(n)}, 64<<20, limit)
		if err != nil {
			return 0, err
		}
		// Every kick exiting to govmm would mean no ioeventfd.
		if t := bench.Total(r.exits); t > uint64(n)/2 {
			return 0, fmt.Errorf("%d exits for %d kicks: the notify register is not bound with KVM_IOEVENTFD (%v)", t, n, r.exits)
		}
		notify = r.res.Notify
		return float64(r.elapsed.Nanoseconds()) / float64(n), nil
	}
	ref := func(dst *[]float64, prog, key string, extra ...string) error {
		v, err := s.runRef(prog, n, key, extra...)
		*dst = append(*dst, v)
		return err
	}
	for i := 1; i <= runs; i++ {
		s.progress("row 2: kick, run %d/%d: govmm (blkbench guest, %d writes of the virtio-blk notify register, device live: its worker waits)", i, runs, n)
		v, err := kicks(bench.BlkModeKick)
		if err != nil {
			s.broke(id, name, err)
			return
		}
		g = append(g, v)
		s.progress("row 2: kick, run %d/%d: C references (build/ref/mmiokick %d with a waiting reader thread, then noreader; build/ref/ioeventfd %d)", i, runs, n, n)
		if err := ref(&c, "mmiokick", "mmio_kick_ns"); err != nil {
			s.broke(id, name, err)
			return
		}
		if err := ref(&cIdle, "mmiokick", "mmio_kick_ns", "noreader"); err != nil {
			s.broke(id, name, err)
			return
		}
		if err := ref(&pio, "ioeventfd", "ioeventfd_kick_ns"); err != nil {
			s.broke(id, name, err)
			return
		}
		s.progress("row 2: kick, run %d/%d: govmm, device not yet live (before DRIVER_OK: no worker waits on the eventfd)", i, runs)
		if v, err = kicks(bench.BlkModeKickIdle); err != nil {
			s.broke(id, name, err)
			return
		}
		idle = append(idle, v)
	}
	gm, cm := bench.Median(g), bench.Median(c)
	gi, ci := bench.Median(idle), bench.Median(cIdle)
	s.add(bench.Row{ID: id, Name: name,
		Govmm: fmtNs(gm) + "/kick", Ref: fmtNs(cm) + "/kick (C)", Ratio: bench.Ratio(gm, cm),
		Notes: fmt.Sprintf("no goal; ratio = govmm ÷ C, both with a waiter: govmm's CPL-3 guest writes virtio-blk's real notify register (MMIO %#x, KVM_IOEVENTFD len 2) with the device live, its worker goroutine polling the eventfd; C: the same 16-bit store, a thread polling and reading the eventfd; median of %d alternated runs × %d kicks; govmm %s, C %s; with nobody waiting: govmm before DRIVER_OK %s, C noreader %s (%s); C port-I/O ioeventfd with a reader %s",
			notify, runs, n, spread(g, fmtNs), spread(c, fmtNs), fmtNs(gi), fmtNs(ci), bench.Ratio(gi, ci), fmtNs(bench.Median(pio))),
	})
}

// fmtNs formats nanoseconds with a unit.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// fmtRatio formats a ratio as bench.Ratio does.
func fmtRatio(r float64) string { return bench.Ratio(r, 1) }

// spread formats the range of xs as "lo to hi" (or the one value).
func spread(xs []float64, f func(float64) string) string {
	lo, hi := bench.Spread(xs)
	if len(xs) <= 1 || lo == hi {
		return f(lo)
	}
	return f(lo) + " to " + f(hi)
}
