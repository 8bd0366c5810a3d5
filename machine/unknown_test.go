package machine

import (
	"bytes"
	"strings"
	"testing"
)

// TestBusCountsUnknownByAddress: accesses that hit no device are counted
// per address, split into reads and writes, with the widths seen; those at
// a device are not.
func TestBusCountsUnknownByAddress(t *testing.T) {
	b := NewBus("pio")
	if err := b.Register("dev", 0x3f8, 8, &recorder{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b.Read(0x2f9, make([]byte, 1))
	}
	b.Write(0x2f9, []byte{0})
	b.Write(0x80, []byte{0})
	b.Write(0x80, []byte{0, 0})
	b.Read(0x3fd, make([]byte, 1)) // the device's: not unknown
	b.Read(0xcfc, make([]byte, 4))
	top, rest := b.TopUnknown(10)
	want := []UnknownAccess{
		{Addr: 0x2f9, Reads: 3, Writes: 1, Sizes: 1},
		{Addr: 0x80, Writes: 2, Sizes: 1 | 2},
		{Addr: 0xcfc, Reads: 1, Sizes: 4},
	}
	if len(top) != len(want) {
		t.Fatalf("top %+v, want %+v", top, want)
	}
	for i := range want {
		if top[i] != want[i] {
			t.Errorf("top[%d] = %+v, want %+v", i, top[i], want[i])
		}
	}
	if rest.Total() != 0 {
		t.Errorf("rest %+v", rest)
	}
	if s := top[1].SizeList(); s != "1,2" {
		t.Errorf("SizeList %q", s)
	}
	if got := b.unknownReads.Load() + b.unknownWrites.Load(); got != 7 {
		t.Errorf("unknown total %d, want 7", got)
	}

	// Only the top n are listed; the rest are summed.
	top, rest = b.TopUnknown(1)
	if len(top) != 1 || top[0].Addr != 0x2f9 {
		t.Fatalf("top 1: %+v", top)
	}
	if rest != (UnknownAccess{Reads: 1, Writes: 2, Sizes: 1 | 2 | 4}) {
		t.Fatalf("rest %+v", rest)
	}
}

// TestBusUnknownAddressesAreBounded: a guest scanning memory does not grow
// the per-address table past maxUnknownAddrs; the excess is still counted.
func TestBusUnknownAddressesAreBounded(t *testing.T) {
	b := NewBus("mmio")
	d := make([]byte, 4)
	for a := range uint64(maxUnknownAddrs + 100) {
		b.Read(a*4, d)
	}
	b.Write(1<<40, d)
	if len(b.unknownAt) != maxUnknownAddrs {
		t.Fatalf("%d addresses kept", len(b.unknownAt))
	}
	top, rest := b.TopUnknown(5)
	if len(top) != 5 || top[0].Addr != 0 || top[4].Addr != 16 {
		t.Fatalf("top %+v", top)
	}
	if rest.Reads != maxUnknownAddrs+100-5 || rest.Writes != 1 {
		t.Fatalf("rest %+v", rest)
	}
}

// TestStatsListTopUnknown: -stats names the busiest addresses without a
// device, per bus, with reads, writes and widths.
func TestStatsListTopUnknown(t *testing.T) {
	m := &Machine{pio: NewBus("pio"), mmio: NewBus("mmio")}
	for i := range 12 {
		for range i + 1 {
			m.pio.Read(uint64(0x100+i), make([]byte, 1))
		}
	}
	m.pio.Write(0x2e, []byte{0x87})
	m.mmio.Write(0xfed00000, make([]byte, 4))
	var out bytes.Buffer
	m.WriteStats(&out)
	s := out.String()
	// Compare lines with their spacing collapsed.
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	flat := "\n" + strings.Join(lines, "\n") + "\n"
	for _, want := range []string{
		"top addresses with no device (reads give all-ones, writes are dropped):\nbus address reads writes sizes\npio 0x10b 12 0 1\n",
		"\npio 0x102 3 0 1\npio (others) 3 1 1\nmmio 0xfed00000 0 1 4\n", // others: 0x101 (2), 0x100 (1), 0x2e (1 write)
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	if strings.Contains(flat, "0x101 ") {
		t.Errorf("more than %d pio addresses listed:\n%s", topUnknown, s)
	}

	// Nothing unknown: no such table.
	out.Reset()
	(&Machine{pio: NewBus("pio"), mmio: NewBus("mmio")}).WriteStats(&out)
	if strings.Contains(out.String(), "no device") {
		t.Errorf("empty buses listed:\n%s", out.String())
	}
}
