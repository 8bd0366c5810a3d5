package main

import (
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/bench"
)

// sample is a run of row 10 that moved mib MiB in secs seconds.
func sample(round int, mib, secs float64) netSample {
	t0 := time.Unix(1000, 0)
	return netSample{round: round, sink: bench.SinkResult{Bytes: uint64(mib * (1 << 20)), First: t0, Last: t0.Add(time.Duration(secs * float64(time.Second)))}}
}

func TestNetTable(t *testing.T) {
	vmms := []netVMM{{key: "govmm", what: "govmm"}, {key: "qemu", what: "QEMU pc vhost=off"}, {key: "qemu-nocsum", what: "QEMU pc vhost=off csum=off"}}
	g := []netSample{sample(0, 64, 8), sample(1, 64, 16), sample(2, 64, 4)} // 8, 4, 16 MiB/s
	for i := range g {
		g[i].exits = map[string]uint64{"IO": 17000 + uint64(i)*64, "MMIO": 200}
		g[i].net = &bench.NetCounters{TxFrames: 46000, TxBytes: 67 << 20, RxFrames: 900}
	}
	q := []netSample{sample(0, 64, 4), sample(2, 64, 4)} // 16 MiB/s; round 1 failed
	base := netSample{exits: map[string]uint64{"IO": 17000, "MMIO": 136}}
	row := netTable("10", "tcp", vmms, [][]netSample{g, q, nil}, [][]string{nil, {"boom"}, {"x", "y"}}, base, 64, "qemu ...")
	if row.Govmm != "8.0 MiB/s" || row.Ref != "16.0 MiB/s (QEMU pc vhost=off)" || row.Ratio != "0.50x" {
		t.Fatalf("cells %q %q %q", row.Govmm, row.Ref, row.Ratio)
	}
	for _, want := range []string{
		"ratio = govmm MiB/s ÷ QEMU pc vhost=off MiB/s",
		"govmm 4.0 MiB/s to 16.0 MiB/s, QEMU 16.0 MiB/s",
		"median of the per-round ratios: 0.75x", // rounds 0 and 2: 0.5 and 1.0
		"QEMU pc vhost=off csum=off: failed",
		"median run: 17264 (IO 17064, MMIO 200), 269.8 per MiB sent",
		"the run sending nothing: 17136, so the transfer alone +2.0 per MiB",
		"net0 sent 46000 frames",
		"FAILED runs (each tried once more), left out: qemu 1 [boom]; qemu-nocsum 2 [x y]",
		"QEMU: `qemu ...`",
	} {
		if !strings.Contains(row.Notes, want) {
			t.Errorf("notes lack %q:\n%s", want, row.Notes)
		}
	}
}

func TestRowsFlag(t *testing.T) {
	for _, bad := range []string{"0", "11", "01", "1,x"} {
		var out, errb strings.Builder
		if code := run([]string{"-rows", bad}, &out, &errb); code != 2 {
			t.Errorf("-rows %s: exit %d, want 2", bad, code)
		}
	}
	var out, errb strings.Builder
	if code := run([]string{"-net-mib", "0"}, &out, &errb); code != 2 {
		t.Errorf("-net-mib 0: exit %d, want 2", code)
	}
}

func TestNCStatus(t *testing.T) {
	for console, want := range map[string]string{
		"x\r\n" + netSent + "0\r\n":                                  "0",
		netSent + "0[   14.218357] random: crng init done\r\n":       "0",
		netSent + "1\r\n":                                            "1",
		"govmm-bench: net start, 5 bytes\r\n[ 3.1] Kernel panic\r\n": "",
	} {
		if got := ncStatus(console); got != want {
			t.Errorf("ncStatus(%q) = %q, want %q", console, got, want)
		}
	}
}
