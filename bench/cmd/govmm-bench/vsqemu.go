package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/govmm/govmm/bench"
)

// Rows 7 to 9 boot Linux with govmm and with QEMU side by side, on one KVM
// host (this machine's when it runs guest ring 0 in hardware, and always
// the nested test host, in one L1 boot): the same kernel, initramfs,
// command line, RAM (512 MiB) and one vCPU.
//
//  7. the test kernel (bzImage) to its /init's hello line and to exit;
//  8. Debian's stock cloud kernel with a busybox /init that prints a line
//     and powers off;
//  9. memory: the peak of (RSS − guest RAM RSS) over a whole test-kernel
//     boot, govmm against QEMU microvm.

// bootRAM is the guest RAM of rows 7 to 9.
const bootRAM = 512 << 20

// bootCmdline is the kernel command line of every boot in rows 7 to 9.
const bootCmdline = "console=ttyS0 panic=-1"

// Markers: what each /init prints first.
const (
	testMarker  = "govmm-guest: hello from user space"
	stockMarker = "govmm-bench: hello from busybox"
)

// bootKernel is one kernel of rows 7 and 8.
type bootKernel struct {
	id, name       string
	kernel, initrd string
	marker         string
	limit          time.Duration
}

// bootVMM is one VMM of rows 7 and 8.
type bootVMM struct {
	key   string // "govmm", "microvm", "pc"
	argv  func(k bootKernel) []string
	exit0 bool // a clean end exits 0
}

// bootSample is one boot.
type bootSample struct {
	round        int // which alternated run
	marker, exit time.Duration
	stats        map[string]uint64 // govmm -stats, by reason
	hw, user     map[string]uint64 // kvm tracepoints
}

// bootVMMs are govmm and the two QEMU machines, each with the same kernel,
// initrd, command line, RAM and vCPU count.
func (s *suite) bootVMMs() []bootVMM {
	qemu := func(machine string) func(k bootKernel) []string {
		return func(k bootKernel) []string {
			return append(s.qemuBase(machine, bootRAM), "-cpu", "host", "-kernel", k.kernel, "-initrd", k.initrd, "-append", bootCmdline)
		}
	}
	return []bootVMM{
		{key: "govmm", exit0: true, argv: func(k bootKernel) []string {
			return []string{s.govmm, "run", "-kernel", k.kernel, "-initrd", k.initrd, "-m", fmt.Sprintf("%dM", bootRAM>>20), "-smp", "1",
				"-append", bootCmdline, "-stats", "-timeout", k.limit.String()}
		}},
		{key: "microvm", exit0: true, argv: qemu("microvm")},
		{key: "pc", exit0: true, argv: qemu("pc")},
	}
}

// bootOnce boots k with v and waits for the end.
func (s *suite) bootOnce(k bootKernel, v bootVMM, tr *kvmTrace) (bootSample, error) {
	var b bootSample
	if tr != nil {
		if err := tr.reset(); err != nil {
			return b, err
		}
	}
	p, err := startVMM(v.key, v.argv(k), k.marker)
	if err != nil {
		return b, err
	}
	ended := p.wait(k.limit + 30*time.Second)
	if tr != nil {
		var err error
		if b.hw, b.user, err = tr.read(); err != nil {
			return b, err
		}
	}
	b.marker, b.exit = p.mark(k.marker), p.exitAt
	switch {
	case !ended:
		return b, fmt.Errorf("still running after %v: %s", k.limit+30*time.Second, p.describe())
	case b.marker == 0:
		return b, fmt.Errorf("no %q: %s", k.marker, p.describe())
	case p.code != 0:
		return b, fmt.Errorf("exit %d after the marker: %s", p.code, p.describe())
	}
	if v.key == "govmm" {
		_, errs := p.output()
		if b.stats, err = bench.ExitCounts(errs); err != nil {
			return b, err
		}
	}
	return b, nil
}

// stockInitramfs builds the busybox initramfs of row 8: /init prints
// stockMarker and powers off at once (as e2e's stock tests do).
func (s *suite) stockInitramfs() (string, error) {
	dir := filepath.Join(s.build, "bench")
	init, cpio := filepath.Join(dir, "stock-init"), filepath.Join(dir, "stock-bench.cpio")
	script := "#!/bin/busybox sh\n/bin/busybox echo " + stockMarker + "\n/bin/busybox poweroff -f\n"
	if err := os.WriteFile(init, []byte(script), 0o755); err != nil {
		return "", err
	}
	if err := s.cmd(time.Minute, s.root, s.govmm, "initramfs", "-o", cpio, "-init", init, "bin/busybox="+filepath.Join(s.stockDir, "busybox")); err != nil {
		return "", err
	}
	return cpio, nil
}

// bootKernels returns the kernels of the selected rows 7 and 8, or a row
// explaining why one is missing.
func (s *suite) bootKernels(where string) ([]bootKernel, []bench.Row) {
	var ks []bootKernel
	var missing []bench.Row
	if s.want("7") {
		kdir := s.testKernelDir()
		bz := filepath.Join(kdir, "bzImage")
		initrd, err := s.findInitramfs(kdir)
		if _, serr := os.Stat(bz); kdir == "" || serr != nil || err != nil {
			missing = append(missing, bench.Row{ID: "7", Name: "test kernel vs QEMU " + where, Govmm: "skipped", Ref: "skipped", Ratio: "-",
				Notes: fmt.Sprintf("no test kernel bzImage or initramfs (%v %v): `make kernel`", serr, err)})
		} else {
			ks = append(ks, bootKernel{id: "7", name: "test kernel", kernel: bz, initrd: initrd, marker: testMarker, limit: 3 * time.Minute})
		}
	}
	if s.want("8") {
		vmlinuz := filepath.Join(s.stockDir, "vmlinuz")
		_, err := os.Stat(vmlinuz)
		var cpio string
		if s.stockDir != "" && err == nil {
			cpio, err = s.stockInitramfs()
		}
		if s.stockDir == "" || err != nil {
			missing = append(missing, bench.Row{ID: "8", Name: "Debian stock kernel vs QEMU " + where, Govmm: "skipped", Ref: "skipped", Ratio: "-",
				Notes: fmt.Sprintf("no stock kernel (-stock-dir %q: %v): scripts/fetch-stock-kernel.sh", s.stockDir, err)})
		} else {
			ks = append(ks, bootKernel{id: "8", name: "Debian stock kernel", kernel: vmlinuz, initrd: cpio, marker: stockMarker, limit: 5 * time.Minute})
		}
	}
	return ks, missing
}

// testKernelDir is -kernel-dir, else the cached test kernel's directory.
func (s *suite) testKernelDir() string {
	if s.kernelDir != "" {
		return s.kernelDir
	}
	out, err := execOutput(filepath.Join(s.root, "scripts", "build-kernel.sh"), "--print-dir")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// bootRows runs rows 7 to 9 on this machine's /dev/kvm, which must run
// guest ring 0 in hardware; where ("[nested]", "[host]") goes into the
// row names.
func (s *suite) bootRows(where string) {
	if s.qemu == "" {
		for _, id := range []string{"7", "8", "9"} {
			if s.want(id) {
				s.add(bench.Row{ID: id, Name: "vs QEMU " + where, Govmm: "skipped", Ref: "n/a", Ratio: "-", Notes: s.qemuWhy})
			}
		}
		return
	}
	tr, err := newKVMTrace()
	if err != nil {
		s.progress("KVM exit counts by tracepoint unavailable: %v", err)
		tr = nil
	} else {
		defer tr.close()
	}
	ks, missing := s.bootKernels(where)
	for _, r := range missing {
		s.add(r)
	}
	vmms := s.bootVMMs()
	runs := s.bootRuns
	type key struct{ k, v int }
	samples := map[key][]bootSample{}
	failures := map[key][]string{}
	for i := 0; i < runs; i++ {
		for ki, k := range ks {
			// Rotate the order every run, so no VMM always goes first.
			for j := range vmms {
				vi := (i + j) % len(vmms)
				v := vmms[vi]
				b, err := s.bootOnce(k, v, tr)
				b.round = i
				kk := key{ki, vi}
				if err != nil {
					failures[kk] = append(failures[kk], firstLine(err.Error()))
					s.progress("row %s %s: run %d/%d: %s FAILED: %v", k.id, where, i+1, runs, v.key, err)
					continue
				}
				samples[kk] = append(samples[kk], b)
				exits := ""
				if b.stats != nil {
					exits = fmt.Sprintf(", govmm -stats %d exits", bench.Total(b.stats))
				}
				if b.hw != nil {
					exits += fmt.Sprintf(", KVM %d exits (%d to user space)", bench.Total(b.hw), bench.Total(b.user))
				}
				s.progress("row %s %s: run %d/%d: %-7s %s: user space after %.2f s, exit after %.2f s%s",
					k.id, where, i+1, runs, v.key, k.name, b.marker.Seconds(), b.exit.Seconds(), exits)
			}
		}
	}
	for ki, k := range ks {
		g := samples[key{ki, 0}]
		for vi, v := range vmms[1:] {
			q := samples[key{ki, vi + 1}]
			s.add(bootRow(k, v.key, where, runs, g, q, failures[key{ki, 0}], failures[key{ki, vi + 1}], tr != nil, showArgv(v.argv(k))))
			if len(g) == 0 || len(q) == 0 {
				s.fails = append(s.fails, fmt.Errorf("row %s %s vs %s: no successful boot (govmm: %v; QEMU: %v)", k.id, where, v.key,
					failures[key{ki, 0}], failures[key{ki, vi + 1}]))
			}
		}
	}
	if s.want("9") {
		s.memRow(where, ks)
	}
}

// bootRow makes one row of 7 or 8: govmm against one QEMU machine.
func bootRow(k bootKernel, ref, where string, runs int, g, q []bootSample, gfail, qfail []string, traced bool, qargv string) bench.Row {
	sub := map[string]string{"microvm": "a", "pc": "b"}[ref]
	row := bench.Row{ID: k.id + sub, Name: fmt.Sprintf("%s → user space vs QEMU %s %s", k.name, ref, where)}
	secs := func(xs []bootSample, f func(bootSample) time.Duration) []float64 {
		var v []float64
		for _, x := range xs {
			v = append(v, f(x).Seconds())
		}
		return v
	}
	mark := func(b bootSample) time.Duration { return b.marker }
	exit := func(b bootSample) time.Duration { return b.exit }
	gm, ge, qm, qe := bench.Median(secs(g, mark)), bench.Median(secs(g, exit)), bench.Median(secs(q, mark)), bench.Median(secs(q, exit))
	cell := func(m, e float64, n int) string {
		if n == 0 {
			return "failed"
		}
		return fmt.Sprintf("%.2f s (exit %.2f s)", m, e)
	}
	row.Govmm, row.Ref = cell(gm, ge, len(g)), cell(qm, qe, len(q))+" "+ref
	row.Ratio = bench.Ratio(gm, qm)
	var notes []string
	if ref == "microvm" {
		r := gm / qm
		notes = append(notes, fmt.Sprintf("goal ≤ 0.80x (%s)", goal(len(g) > 0 && len(q) > 0 && r <= 0.8)))
	} else {
		notes = append(notes, "no goal")
	}
	notes = append(notes, fmt.Sprintf("ratio = govmm ÷ QEMU %s, median wall time from exec to %q on the console; to exit: %s", ref, k.marker, bench.Ratio(ge, qe)))
	fs := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	notes = append(notes, fmt.Sprintf("%d alternated runs (order rotated), good: govmm %d, QEMU %d; median of the per-run ratios (the two boots of one run are minutes apart at most, so they share the machine's load): %s to user space; to user space govmm %s s, QEMU %s s; to exit govmm %s s, QEMU %s s",
		runs, len(g), len(q), pairedRatio(g, q, mark), spread(secs(g, mark), fs), spread(secs(q, mark), fs), spread(secs(g, exit), fs), spread(secs(q, exit), fs)))
	if len(g) > 0 {
		st := medianCounts(g, func(b bootSample) map[string]uint64 { return b.stats })
		n := bench.Total(st)
		s := fmt.Sprintf("govmm -stats (exits to govmm), median run: %d (%s)", n, topExits(st))
		if k.id == "8" {
			s = fmt.Sprintf("goal < 50,000 govmm exits (%s); ", goal(n < 50000)) + s
		}
		notes = append(notes, s)
	}
	if traced {
		hw := func(xs []bootSample) string {
			if len(xs) == 0 {
				return "-"
			}
			h := medianCounts(xs, func(b bootSample) map[string]uint64 { return b.hw })
			u := medianCounts(xs, func(b bootSample) map[string]uint64 { return b.user })
			return fmt.Sprintf("%d (%s), to user space %d (%s)", bench.Total(h), topExits(h), bench.Total(u), topExits(u))
		}
		notes = append(notes, fmt.Sprintf("KVM's own count (kvm:kvm_exit and kvm:kvm_userspace_exit hist triggers, median run): govmm %s; QEMU %s", hw(g), hw(q)))
	}
	if len(gfail)+len(qfail) > 0 {
		notes = append(notes, fmt.Sprintf("FAILED runs, left out: govmm %d %v, QEMU %d %v", len(gfail), gfail, len(qfail), qfail))
	}
	notes = append(notes, fmt.Sprintf("both: %s, %s, -append %q, 512 MiB, 1 vCPU; QEMU: `%s`", filepath.Base(k.kernel), filepath.Base(k.initrd), bootCmdline, qargv))
	row.Notes = strings.Join(notes, "; ")
	return row
}

// pairedRatio is the median over the runs where both succeeded of
// govmm's time ÷ QEMU's.
func pairedRatio(g, q []bootSample, f func(bootSample) time.Duration) string {
	byRound := map[int]bootSample{}
	for _, b := range q {
		byRound[b.round] = b
	}
	var r []float64
	for _, b := range g {
		if o, ok := byRound[b.round]; ok && f(o) > 0 {
			r = append(r, f(b).Seconds()/f(o).Seconds())
		}
	}
	if len(r) == 0 {
		return "-"
	}
	return bench.Ratio(bench.Median(r), 1)
}

// medianCounts returns, of the runs, the counts of the run with the median
// total (the lower middle one for an even number).
func medianCounts(xs []bootSample, f func(bootSample) map[string]uint64) map[string]uint64 {
	var ms []map[string]uint64
	for _, x := range xs {
		if m := f(x); m != nil {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	sort.Slice(ms, func(i, j int) bool { return bench.Total(ms[i]) < bench.Total(ms[j]) })
	return ms[(len(ms)-1)/2]
}

// memSample is one memory run of row 9.
type memSample struct {
	peak, last bench.Overhead
	top        string // the largest other mappings at the peak
	hwm        uint64 // VmHWM at the last sample
	samples    int
}

// memOnce boots the test kernel with argv and samples its smaps every
// memEvery until it ends.
func (s *suite) memOnce(label string, argv []string, k bootKernel) (memSample, error) {
	var m memSample
	p, err := startVMM(label, argv, k.marker)
	if err != nil {
		return m, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	type res struct {
		peak, last bench.Overhead
		top        string
		n          int
	}
	got := make(chan res, 1)
	hwm := make(chan uint64, 1)
	go func() {
		pk, ls, top, n := vmmOverhead(ctx, p.cmd.Process.Pid, bootRAM, memEvery)
		got <- res{pk, ls, top, n}
	}()
	go func() {
		// VmHWM while the process lives (it is gone from /proc at exit).
		var last uint64
		t := time.NewTicker(memEvery)
		defer t.Stop()
		for {
			if v, err := vmHWM(p.cmd.Process.Pid); err == nil {
				last = v
			}
			select {
			case <-p.done:
				hwm <- last
				return
			case <-t.C:
			}
		}
	}()
	ended := p.wait(k.limit + 30*time.Second)
	cancel()
	r := <-got
	m.peak, m.last, m.top, m.samples, m.hwm = r.peak, r.last, r.top, r.n, <-hwm
	switch {
	case !ended:
		return m, fmt.Errorf("still running after %v: %s", k.limit, p.describe())
	case p.mark(k.marker) == 0 || p.code != 0:
		return m, fmt.Errorf("no clean boot: %s", p.describe())
	case m.samples == 0:
		return m, fmt.Errorf("no smaps sample with a %d MiB guest mapping", bootRAM>>20)
	}
	return m, nil
}

// memEvery is how often row 9 samples a VMM's smaps.
const memEvery = 100 * time.Millisecond

// memRow is row 9: the VMM's own memory over a whole Linux boot, govmm
// against QEMU microvm.
func (s *suite) memRow(where string, ks []bootKernel) {
	const id = "9"
	name := "memory overhead, whole test-kernel boot " + where
	var k bootKernel
	for _, x := range ks {
		if x.id == "7" {
			k = x
		}
	}
	if k.kernel == "" {
		kdir := s.testKernelDir()
		initrd, err := s.findInitramfs(kdir)
		if kdir == "" || err != nil {
			s.add(bench.Row{ID: id, Name: name, Govmm: "skipped", Ref: "skipped", Ratio: "-", Notes: "no test kernel"})
			return
		}
		k = bootKernel{id: "7", kernel: filepath.Join(kdir, "bzImage"), initrd: initrd, marker: testMarker, limit: 3 * time.Minute}
	}
	vmms := s.bootVMMs()
	var g, q []float64
	var lg, lq memSample
	var fails []string
	for i := 1; i <= s.memRuns; i++ {
		for _, v := range []bootVMM{vmms[0], vmms[1]} {
			s.progress("row 9 %s: run %d/%d: %s boots the test kernel, smaps sampled every %v", where, i, s.memRuns, v.key, memEvery)
			m, err := s.memOnce(v.key, v.argv(k), k)
			if err != nil {
				fails = append(fails, v.key+": "+firstLine(err.Error()))
				s.progress("row 9 %s: run %d: %s FAILED: %v", where, i, v.key, err)
				continue
			}
			s.progress("row 9 %s: run %d: %s peak RSS − guest RAM %s (%d samples; at exit: guest RAM RSS %s, VmHWM %s)",
				where, i, v.key, fmtBytes(float64(m.peak.VMM())), m.samples, fmtBytes(float64(m.last.GuestRss)), fmtBytes(float64(m.hwm)))
			if v.key == "govmm" {
				g, lg = append(g, float64(m.peak.VMM())), m
			} else {
				q, lq = append(q, float64(m.peak.VMM())), m
			}
		}
	}
	gm, qm := bench.Median(g), bench.Median(q)
	row := bench.Row{ID: id, Name: name, Govmm: fmtBytes(gm), Ref: fmtBytes(qm) + " (QEMU microvm)", Ratio: bench.Ratio(gm, qm)}
	if len(g) == 0 || len(q) == 0 {
		s.fails = append(s.fails, fmt.Errorf("row 9 %s: no successful run: %v", where, fails))
		row.Govmm, row.Ref = "failed", "failed"
	}
	last := func(m memSample) string {
		return fmt.Sprintf("peak at total %s with guest RAM %s (largest others: %s); guest RAM %s at exit; VmHWM %s", fmtBytes(float64(m.peak.TotalRss)),
			fmtBytes(float64(m.peak.GuestRss)), m.top, fmtBytes(float64(m.last.GuestRss)), fmtBytes(float64(m.hwm)))
	}
	notes := []string{
		fmt.Sprintf("goal ≤ 0.20x (%s)", goal(len(g) > 0 && len(q) > 0 && gm/qm <= 0.2)),
		fmt.Sprintf("ratio = govmm ÷ QEMU microvm of the peak, over the boot, of (Rss summed over /proc/PID/smaps − Rss of the %d MiB anonymous guest RAM mapping), sampled every %v from exec to exit: guest pages the kernel touched are subtracted for both, and whatever else either VMM maps (binary, libraries, firmware, device buffers, heap) counts",
			bootRAM>>20, memEvery),
		fmt.Sprintf("median of %d alternated runs each (row 7's command lines); govmm %s, QEMU %s", s.memRuns, spread(g, fmtBytes), spread(q, fmtBytes)),
		"last govmm run: " + last(lg), "last QEMU run: " + last(lq),
	}
	if len(fails) > 0 {
		notes = append(notes, fmt.Sprintf("FAILED runs, left out: %v", fails))
	}
	row.Notes = strings.Join(notes, "; ")
	s.add(row)
}
