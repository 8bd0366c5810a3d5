package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govmm/govmm/bench"
	"github.com/govmm/govmm/internal/netnstest"
)

// Row 10: guest→host TCP throughput over a tap, govmm against QEMU's
// user-space virtio-net. The host end is a listener in this process,
// inside the private namespace, that counts the bytes and stamps the first
// and the last: throughput = bytes ÷ (last − first). The runs alternate,
// the order rotated every round; one govmm run that sends nothing first
// counts the exits of the boot and the power-off alone.

// netSample is one run of row 10.
type netSample struct {
	round int
	sink  bench.SinkResult
	exits map[string]uint64  // govmm -stats
	net   *bench.NetCounters // govmm -stats, net0
}

// netBootLimit bounds a run's boot, to /init's netStart line: the test
// kernel takes 5 to 15 s on the nested host, where an L2 boot now and then
// hangs.
const netBootLimit = 2 * time.Minute

// netLimit bounds one run: the boot, and the transfer at 0.5 MiB/s at
// least.
func netLimit(bytes uint64) time.Duration {
	return netBootLimit + time.Minute + time.Duration(bytes>>19)*time.Second
}

// netIdle ends a run whose transfer stalls: an L2 on the nested host now
// and then stops mid-way, with either VMM.
const netIdle = 30 * time.Second

// netOnce runs v once in the namespace, sending bytes, with the host's
// listener l.
func (s *suite) netOnce(ns *netnstest.NS, l net.Listener, v netVMM, kernel, initrd string, bytes uint64) (netSample, error) {
	var b netSample
	if err := flushNeighbours(ns, netTap); err != nil {
		return b, fmt.Errorf("flushing the tap's neighbours: %w", err)
	}
	limit := netLimit(bytes)
	ctx, cancel := context.WithTimeout(context.Background(), limit+time.Minute)
	defer cancel()
	type sunk struct {
		r   bench.SinkResult
		err error
	}
	got := make(chan sunk, 1)
	go func() {
		r, err := bench.TCPSink(ctx, l, netIdle)
		got <- sunk{r, err}
	}()
	var p *vmmProc
	err := ns.Do(func() error {
		var err error
		p, err = startVMM(v.key, v.argv(kernel, initrd, bytes, limit), netStart, netSent)
		return err
	})
	if err != nil {
		cancel()
		<-got
		return b, err
	}
	// waitFor calls the condition under p's lock.
	if !p.waitFor(netBootLimit, func() bool { _, ok := p.marks[netStart]; return ok }) {
		why := fmt.Sprintf("within %v (the boot hung)", netBootLimit)
		select {
		case <-p.done:
			why = fmt.Sprintf("before the VMM ended (exit %d)", p.code)
		default:
		}
		p.stop()
		cancel()
		<-got
		return b, fmt.Errorf("no %q %s\n%s", netStart, why, p.describe())
	}
	// The guest powers off once the host has closed. A sink that gives up
	// (nothing for netIdle) ends the VMM too.
	var r sunk
	ended := true
	select {
	case r = <-got:
		if r.err != nil {
			p.stop()
		} else {
			ended = p.wait(time.Minute)
		}
	case <-p.done:
		cancel()
		r = <-got
	case <-time.After(limit):
		p.stop()
		ended = false
		cancel()
		r = <-got
	}
	b.sink = r.r
	out, errs := p.output()
	status := ncStatus(out)
	switch {
	case !ended:
		return b, fmt.Errorf("did not end by itself (run limit %v, or a minute after the transfer), the host had %d bytes (%v)\n%s", limit, r.r.Bytes, r.err, p.describe())
	case p.code != 0:
		return b, fmt.Errorf("exit %d after the host had %d bytes (%v)\n%s", p.code, r.r.Bytes, r.err, p.describe())
	case r.err != nil:
		return b, fmt.Errorf("host end: %v (a guest panic?)\n%s", r.err, p.describe())
	case p.mark(netSent) == 0:
		return b, fmt.Errorf("no %q\n%s", netSent, p.describe())
	case status != "0":
		return b, fmt.Errorf("guest nc exit %q\n%s", status, p.describe())
	case r.r.Bytes != bytes:
		return b, fmt.Errorf("the host got %d bytes, want %d", r.r.Bytes, bytes)
	}
	if v.key == "govmm" {
		if b.exits, err = bench.ExitCounts(errs); err != nil {
			return b, err
		}
		c, err := bench.NetCounts(errs, "net0")
		if err != nil {
			return b, err
		}
		b.net = &c
	}
	return b, nil
}

// ncStatus returns the exit status /init printed after netSent: the
// digits that follow it (a kernel message may come right after them, on
// the same console line).
func ncStatus(console string) string {
	_, after, _ := strings.Cut(console, netSent)
	n := 0
	for n < len(after) && after[n] >= '0' && after[n] <= '9' {
		n++
	}
	return after[:n]
}

// netRow is row 10 on this machine's /dev/kvm, which must run guest user
// space; where ("[nested]", "[host]") goes into the row's name.
func (s *suite) netRow(where string) {
	const id = "10"
	name := "guest→host TCP over a tap, MiB/s, govmm ÷ QEMU " + netQEMUMachine + " vhost=off " + where
	if s.qemu == "" {
		s.add(bench.Row{ID: id, Name: name, Govmm: "skipped", Ref: "n/a", Ratio: "-", Notes: s.qemuWhy})
		return
	}
	kdir := s.testKernelDir()
	kernel := filepath.Join(kdir, "bzImage")
	if _, err := os.Stat(kernel); kdir == "" || err != nil {
		s.add(bench.Row{ID: id, Name: name, Govmm: "skipped", Ref: "skipped", Ratio: "-", Notes: fmt.Sprintf("no test kernel bzImage (%v): `make kernel`", err)})
		return
	}
	initrd, err := s.netInitramfs()
	if err != nil {
		s.broke(id, name, fmt.Errorf("the guest's initramfs: %w", err))
		return
	}
	ns, err := netnstest.Open()
	if err != nil {
		s.broke(id, name, err)
		return
	}
	defer ns.Close()
	if err := ns.AddTap(netTap, netHostIP+"/24"); err != nil {
		s.broke(id, name, err)
		return
	}
	var l net.Listener
	if err := ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp", net.JoinHostPort(netHostIP, strconv.Itoa(netPort)))
		return err
	}); err != nil {
		s.broke(id, name, err)
		return
	}
	defer l.Close()

	bytes := uint64(s.netMiB) << 20
	vmms := s.netVMMs()
	s.progress("row 10 %s: %d MiB guest→host per run, %d rounds of %d VMMs, plus one govmm run sending nothing", where, s.netMiB, s.netRuns, len(vmms))
	base, err := s.netOnce(ns, l, vmms[0], kernel, initrd, 0)
	if err != nil {
		s.progress("row 10 %s: govmm run sending nothing FAILED: %v", where, err)
	} else {
		s.progress("row 10 %s: govmm, nothing sent: %d exits", where, bench.Total(base.exits))
	}
	samples := make([][]netSample, len(vmms))
	fails := make([][]string, len(vmms))
	for i := 0; i < s.netRuns; i++ {
		for j := range vmms {
			vi := (i + j) % len(vmms)
			v := vmms[vi]
			// The nested host's L2 guests now and then crash under
			// this load (with either VMM): a failed run is noted and
			// tried once more.
			var b netSample
			var err error
			for try := 0; try < 2; try++ {
				if b, err = s.netOnce(ns, l, v, kernel, initrd, bytes); err == nil {
					break
				}
				fails[vi] = append(fails[vi], firstLine(err.Error()))
				s.progress("row 10 %s: run %d/%d: %s FAILED: %v", where, i+1, s.netRuns, v.key, err)
			}
			if err != nil {
				continue
			}
			b.round = i
			samples[vi] = append(samples[vi], b)
			extra := ""
			if b.exits != nil {
				extra = fmt.Sprintf(", %d exits, %d frames out", bench.Total(b.exits), b.net.TxFrames)
			}
			s.progress("row 10 %s: run %d/%d: %-11s %.1f MiB/s (%d bytes in %.2f s%s)", where, i+1, s.netRuns, v.key,
				b.sink.MiBps(), b.sink.Bytes, b.sink.Last.Sub(b.sink.First).Seconds(), extra)
		}
	}
	row := netTable(id, name, vmms, samples, fails, base, s.netMiB, showArgv(vmms[1].argv(kernel, initrd, bytes, 0)))
	if len(samples[0]) == 0 || len(samples[1]) == 0 {
		s.fails = append(s.fails, fmt.Errorf("row 10 %s: no successful run (govmm: %v; QEMU: %v)", where, fails[0], fails[1]))
		row.Govmm, row.Ref = "failed", "failed"
	}
	s.add(row)
}
