package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/govmm/govmm/bench"
)

// netTable makes row 10 from the samples of each VMM (vmms[0] is govmm,
// vmms[1] the reference: QEMU vhost=off with its default offloads), the
// failures, and base, the govmm run that sent nothing (zero when it
// failed).
func netTable(id, name string, vmms []netVMM, samples [][]netSample, fails [][]string, base netSample, mib int, qargv string) bench.Row {
	rates := func(xs []netSample) []float64 {
		var v []float64
		for _, x := range xs {
			v = append(v, x.sink.MiBps())
		}
		return v
	}
	med := make([]float64, len(vmms))
	for i := range vmms {
		med[i] = bench.Median(rates(samples[i]))
	}
	cell := func(i int) string {
		if len(samples[i]) == 0 {
			return "failed"
		}
		return fmtRate(med[i])
	}
	row := bench.Row{ID: id, Name: name, Govmm: cell(0), Ref: cell(1) + " (" + vmms[1].what + ")", Ratio: bench.Ratio(med[0], med[1])}
	notes := []string{
		fmt.Sprintf("ratio = govmm MiB/s ÷ %s MiB/s (medians; above 1x govmm moves more), no goal", vmms[1].what),
		fmt.Sprintf("throughput = bytes ÷ (last byte − first byte) at a TCP listener on the tap's host side, %d MiB of zeros per run from the guest's `busybox head -c N /dev/zero | busybox nc 10.0.2.1 %d` (nc writes 1 KiB at a time)", mib, netPort),
	}
	var good []string
	for i, v := range vmms {
		good = append(good, fmt.Sprintf("%s %d", v.key, len(samples[i])))
	}
	notes = append(notes, fmt.Sprintf("alternated rounds, order rotated; good runs: %s; govmm %s, QEMU %s; median of the per-round ratios: %s",
		strings.Join(good, ", "), spread(rates(samples[0]), fmtRate), spread(rates(samples[1]), fmtRate), netPaired(samples[0], samples[1])))
	for i := 2; i < len(vmms); i++ {
		if len(samples[i]) == 0 {
			notes = append(notes, vmms[i].what+": failed")
			continue
		}
		notes = append(notes, fmt.Sprintf("%s: %s (%s), govmm ÷ that %s", vmms[i].what, fmtRate(med[i]), spread(rates(samples[i]), fmtRate), bench.Ratio(med[0], med[i])))
	}
	if !hasVMM(vmms, "qemu-vhost") {
		notes = append(notes, "QEMU vhost=on: not measured (no /dev/vhost-net here)")
	}
	if len(samples[0]) > 0 {
		notes = append(notes, netExits(samples[0], base, mib))
	}
	var failed []string
	for i, f := range fails {
		if len(f) > 0 {
			failed = append(failed, fmt.Sprintf("%s %d %v", vmms[i].key, len(f), f))
		}
	}
	if len(failed) > 0 {
		notes = append(notes, "FAILED runs (each tried once more), left out: "+strings.Join(failed, "; "))
	}
	notes = append(notes, fmt.Sprintf("both: the test kernel's bzImage, a busybox initramfs, -append %q, %d MiB, 1 vCPU, the same tap in a private network namespace; QEMU: `%s`",
		netCmdline(uint64(mib)<<20), netRAM>>20, qargv))
	row.Notes = strings.Join(notes, "; ")
	return row
}

// netExits describes govmm's exits in its median run (by total), per MiB
// sent, with and without the boot and power-off (base, the run that sent
// nothing), and the frames net0 counted.
func netExits(g []netSample, base netSample, mib int) string {
	xs := append([]netSample(nil), g...)
	sort.Slice(xs, func(i, j int) bool { return bench.Total(xs[i].exits) < bench.Total(xs[j].exits) })
	m := xs[(len(xs)-1)/2]
	n := bench.Total(m.exits)
	s := fmt.Sprintf("govmm -stats (exits to govmm), median run: %d (%s), %.1f per MiB sent", n, topExits(m.exits), float64(n)/float64(mib))
	if base.exits != nil {
		b := bench.Total(base.exits)
		s += fmt.Sprintf("; the run sending nothing: %d, so the transfer alone %+.1f per MiB (boots differ by tens of exits)", b, (float64(n)-float64(b))/float64(mib))
	}
	if c := m.net; c != nil && c.TxFrames > 0 {
		s += fmt.Sprintf("; net0 sent %d frames (%.0f bytes each on average, %.0f per MiB) and received %d", c.TxFrames,
			float64(c.TxBytes)/float64(c.TxFrames), float64(c.TxFrames)/float64(mib), c.RxFrames)
	}
	return s
}

// netPaired is the median over the rounds where both ran of govmm's rate ÷
// QEMU's.
func netPaired(g, q []netSample) string {
	byRound := map[int]netSample{}
	for _, x := range q {
		byRound[x.round] = x
	}
	var r []float64
	for _, x := range g {
		if o, ok := byRound[x.round]; ok && o.sink.MiBps() > 0 {
			r = append(r, x.sink.MiBps()/o.sink.MiBps())
		}
	}
	if len(r) == 0 {
		return "-"
	}
	return bench.Ratio(bench.Median(r), 1)
}

func hasVMM(vs []netVMM, key string) bool {
	for _, v := range vs {
		if v.key == key {
			return true
		}
	}
	return false
}

func fmtRate(v float64) string { return fmt.Sprintf("%.1f MiB/s", v) }
