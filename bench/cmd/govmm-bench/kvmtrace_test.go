package main

import (
	"testing"
	"time"

	"github.com/govmm/govmm/bench"
)

func TestParseHist(t *testing.T) {
	const hist = `# event histogram
#
# trigger info: hist:keys=exit_reason:vals=hitcount:sort=hitcount:size=2048 [active]
#

{ exit_reason:        120 } hitcount:          3
{ exit_reason:       1024 } hitcount:       8299
{ exit_reason:        123 } hitcount:      30765

Totals:
    Hits: 39067
    Entries: 3
    Dropped: 0
`
	m, err := parseHist(hist, "exit_reason")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m[0x7b] != 30765 || m[0x400] != 8299 || m[0x78] != 3 {
		t.Fatalf("%v", m)
	}
	tr := &kvmTrace{vendor: "svm"}
	if tr.hwName(0x7b) != "io" || tr.hwName(0x400) != "npf" || tr.hwName(0x999) != "0x999" {
		t.Fatal("svm names")
	}
	if _, err := parseHist(hist, "reason"); err == nil {
		t.Fatal("wrong key accepted")
	}
	if _, err := parseHist("# event histogram\n", "reason"); err == nil {
		t.Fatal("a hist without Totals accepted")
	}
	if userExitName(2) != "IO" || userExitName(99) != "exit99" {
		t.Fatal("user exit names")
	}
}

func TestTopMappings(t *testing.T) {
	maps := []bench.Mapping{
		{Start: 0, End: 512 << 20, Perms: "rw-p", Fields: map[string]uint64{"Rss": 30 << 20}},
		{Start: 1 << 30, End: 1<<30 + 4<<20, Perms: "r-xp", Inode: 7, Path: "/usr/bin/qemu", Fields: map[string]uint64{"Rss": 3 << 20}},
		{Start: 2 << 30, End: 2<<30 + 4<<20, Perms: "r--p", Inode: 7, Path: "/usr/bin/qemu", Fields: map[string]uint64{"Rss": 1 << 20}},
		{Start: 3 << 30, End: 3<<30 + 8<<20, Perms: "rw-p", Fields: map[string]uint64{"Rss": 2 << 20}},
		{Start: 4 << 30, End: 4<<30 + 1<<20, Perms: "rw-p", Path: "[heap]", Fields: map[string]uint64{"Rss": 1 << 19}},
	}
	o, err := bench.GuestOverhead(maps, 512<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := topMappings(maps, o, 2); got != "qemu 4.0 MiB, [anon] 2.0 MiB" {
		t.Fatalf("%q", got)
	}
}

func TestPairedRatio(t *testing.T) {
	s := func(round int, sec float64) bootSample {
		return bootSample{round: round, marker: time.Duration(sec * float64(time.Second))}
	}
	g := []bootSample{s(0, 7), s(1, 20), s(2, 30)}
	q := []bootSample{s(0, 10), s(2, 25)} // round 1 failed
	if got := pairedRatio(g, q, func(b bootSample) time.Duration { return b.marker }); got != "0.95x" {
		t.Fatalf("%q", got) // median of 0.70 and 1.20
	}
}
