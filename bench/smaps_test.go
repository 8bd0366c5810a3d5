package bench

import (
	"strings"
	"testing"
)

// smapsSample is trimmed /proc/PID/smaps of a govmm run: the binary, the
// 256 MiB guest RAM, a Go heap arena named by the runtime, and a 256 MiB
// PROT_NONE reservation that must not be taken for the guest.
const smapsSample = `00400000-005b9000 r-xp 00000000 fe:00 9978508                            /build/govmm
Size:               1764 kB
KernelPageSize:        4 kB
Rss:                1756 kB
Pss:                1756 kB
THPeligible:           0
VmFlags: rd ex mr mw me
7f0000000000-7f0010000000 ---p 00000000 00:00 0
Size:             262144 kB
Rss:                   0 kB
VmFlags: mr mw me
7f2000000000-7f2010000000 rw-p 00000000 00:00 0 
Size:             262144 kB
Rss:                 136 kB
Anonymous:           136 kB
VmFlags: rd wr mr mw me nr
20f931000000-20f931400000 rw-p 00000000 00:00 0                          [anon: Go: heap]
Size:               4096 kB
Rss:                 736 kB
VmFlags: rd wr mr mw me ac
7ffd1000-7ffd2000 rw-p 00000000 00:00 0                                  [stack]
Size:                  4 kB
Rss:                   4 kB
ProtectionKey:         0
VmFlags: rd wr mr mw me gd ac
`

func TestParseSmaps(t *testing.T) {
	maps, err := ParseSmaps(strings.NewReader(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 5 {
		t.Fatalf("%d mappings", len(maps))
	}
	b := maps[0]
	if b.Start != 0x400000 || b.End != 0x5b9000 || b.Perms != "r-xp" || b.Inode != 9978508 || b.Path != "/build/govmm" {
		t.Fatalf("binary mapping %+v", b)
	}
	if b.Rss() != 1756<<10 || b.Fields["Size"] != 1764<<10 || b.Anonymous() {
		t.Fatalf("binary fields %v", b.Fields)
	}
	if g := maps[2]; g.Size() != 256<<20 || g.Rss() != 136<<10 || !g.Anonymous() || g.Path != "" {
		t.Fatalf("guest mapping %+v", g)
	}
	if h := maps[3]; h.Path != "[anon: Go: heap]" || !h.Anonymous() {
		t.Fatalf("heap mapping %+v", h)
	}
	if s := maps[4]; s.Path != "[stack]" || s.Anonymous() {
		t.Fatalf("stack mapping %+v (a named special mapping is not anonymous RAM)", s)
	}
}

func TestParseSmapsRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		"Rss: 4 kB\n", // a field before any mapping
		"00400000-005b9000 r-xp 00000000 fe:00 1 /x\nRss: many kB\n",
		"00400000-zz r-xp 00000000 fe:00 1 /x\n",
		"00400000-005b9000 r-xp 00000000 fe:00 1 /x\nnonsense\n",
	} {
		if _, err := ParseSmaps(strings.NewReader(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}

func TestGuestOverhead(t *testing.T) {
	maps, err := ParseSmaps(strings.NewReader(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	o, err := GuestOverhead(maps, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	total := uint64(1756+136+736+4) << 10
	if o.TotalRss != total || o.GuestRss != 136<<10 || o.GuestSize != 256<<20 || o.FileRss != 1756<<10 {
		t.Fatalf("%+v", o)
	}
	if o.VMM() != total-136<<10 {
		t.Fatalf("VMM %d", o.VMM())
	}
	if _, err := GuestOverhead(maps, 512<<20); err == nil {
		t.Fatal("found a 512 MiB guest that is not there")
	}
}

func TestGuestOverheadPrefersExactSizeThenMostResident(t *testing.T) {
	m := func(size, rss uint64) Mapping {
		return Mapping{Start: 0x1000, End: 0x1000 + size, Perms: "rw-p", Fields: map[string]uint64{"Rss": rss}}
	}
	maps := []Mapping{m(256<<20+2<<20, 50), m(256<<20, 10), m(256<<20, 20), m(300<<20, 99)}
	o, err := GuestOverhead(maps, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	if o.GuestSize != 256<<20 || o.GuestRss != 20 {
		t.Fatalf("%+v", o)
	}
	// Rounded up by a little (alignment) is still the guest.
	o, err = GuestOverhead([]Mapping{m(256<<20+2<<20, 50)}, 256<<20)
	if err != nil || o.GuestRss != 50 {
		t.Fatalf("%+v %v", o, err)
	}
}
