package bench

import (
	"math"
	"strings"
	"testing"
)

func TestWriteTableAlignsColumnsByRune(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, []Row{
		{ID: "1", Name: "PIO exit", Govmm: "48.1 µs/exit", Ref: "45.0 µs/exit (C)", Ratio: "1.07x", Notes: "no goal"},
		{ID: "10", Name: "long name here", Govmm: "1 s", Ref: "-", Ratio: "-", Notes: "line one\nline two"},
		{ID: "3", Govmm: "x", Ref: "y", Ratio: "-"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"row                govmm         reference         ratio  goal/notes\n" +
		"--------------------------------------------------------------------\n" +
		"1 PIO exit         48.1 µs/exit  45.0 µs/exit (C)  1.07x  no goal\n" +
		"10 long name here  1 s           -                 -      line one; line two\n" +
		"3                  x             y                 -\n"
	if got := b.String(); got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestRatio(t *testing.T) {
	for _, c := range []struct {
		g, r float64
		want string
	}{
		{1.07, 1, "1.07x"}, {0.5, 2, "0.25x"}, {25, 2, "12.5x"}, {1000, 3, "333x"},
		{0, 1, "-"}, {1, 0, "-"}, {math.NaN(), 1, "-"}, {1, -1, "-"},
	} {
		if got := Ratio(c.g, c.r); got != c.want {
			t.Errorf("Ratio(%v, %v) = %q, want %q", c.g, c.r, got, c.want)
		}
	}
}

func TestMedianAndSpread(t *testing.T) {
	xs := []float64{5, 1, 3}
	if m := Median(xs); m != 3 {
		t.Fatalf("median %v", m)
	}
	if xs[0] != 5 {
		t.Fatal("Median sorted its input")
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Fatalf("even median %v", m)
	}
	if !math.IsNaN(Median(nil)) {
		t.Fatal("median of nothing")
	}
	if lo, hi := Spread(xs); lo != 1 || hi != 5 {
		t.Fatalf("spread %v %v", lo, hi)
	}
}
