package main

import (
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"-nonsense"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d for an unknown flag", code)
	}
	if code := run([]string{"extra"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d for an argument", code)
	}
	if code := run([]string{"-rows", "1,0"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d for row 0", code)
	}
	if code := run([]string{"-boot-runs", "0"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d for -boot-runs 0", code)
	}
}

func TestFmtNs(t *testing.T) {
	for _, c := range []struct {
		ns   float64
		want string
	}{
		{850, "850 ns"}, {4477.5, "4.48 µs"}, {40287, "40.3 µs"}, {30e6, "30.0 ms"}, {81.5e9, "81.50 s"},
	} {
		if got := fmtNs(c.ns); got != c.want {
			t.Errorf("fmtNs(%v) = %q, want %q", c.ns, got, c.want)
		}
	}
	if got := spread([]float64{2000, 1000}, fmtNs); got != "1.00 µs to 2.00 µs" {
		t.Errorf("spread %q", got)
	}
	if got := spread([]float64{1000}, fmtNs); got != "1.00 µs" {
		t.Errorf("spread of one %q", got)
	}
}

func TestTopExits(t *testing.T) {
	got := topExits(map[string]uint64{"IO": 10, "MMIO": 30, "HLT": 10, "INTR": 1})
	if got != "MMIO 30, HLT 10, IO 10" {
		t.Fatalf("%q", got)
	}
}
