package kvm

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// fakeRing is a ring page in a byte slice, and a producer that writes it as
// KVM's coalesced_mmio_write does.
type fakeRing struct {
	t    *testing.T
	page []byte
	r    *CoalescedRing
}

func newFakeRing(t *testing.T) *fakeRing {
	t.Helper()
	page := make([]byte, 4096) // Go's allocator aligns a 4 KiB slice to 8 bytes at least
	r, err := NewCoalescedRing(page)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeRing{t: t, page: page, r: r}
}

func (f *fakeRing) first() uint32 { return binary.LittleEndian.Uint32(f.page[ringFirst:]) }
func (f *fakeRing) last() uint32  { return binary.LittleEndian.Uint32(f.page[ringLast:]) }

func (f *fakeRing) setIndices(first, last uint32) {
	binary.LittleEndian.PutUint32(f.page[ringFirst:], first)
	binary.LittleEndian.PutUint32(f.page[ringLast:], last)
}

// push appends a write as KVM does; false when the ring is full.
func (f *fakeRing) push(addr uint64, pio bool, data []byte) bool {
	last := f.last()
	max := uint32(f.r.Entries())
	if (last+1)%max == f.first() {
		return false
	}
	e := f.page[ringEntries+int(last)*ringEntrySize:][:ringEntrySize]
	binary.LittleEndian.PutUint64(e, addr)
	binary.LittleEndian.PutUint32(e[ringEntryLen:], uint32(len(data)))
	p := uint32(0)
	if pio {
		p = 1
	}
	binary.LittleEndian.PutUint32(e[ringEntryPIO:], p)
	copy(e[ringEntryData:ringEntryData+8], data)
	binary.LittleEndian.PutUint32(f.page[ringLast:], (last+1)%max)
	return true
}

// drain drains the ring and returns the writes as "p3f8:41" strings.
func (f *fakeRing) drain() ([]string, error) {
	var got []string
	n, err := f.r.Drain(func(w CoalescedWrite) {
		// The slot being applied is not handed back yet.
		if idx := f.first(); f.entryAddr(idx) != w.Addr {
			f.t.Errorf("first moved past the entry being applied (first %d)", idx)
		}
		s := "m"
		if w.PIO {
			s = "p"
		}
		got = append(got, fmt.Sprintf("%s%x:%x", s, w.Addr, w.Data))
	})
	if n != len(got) {
		f.t.Errorf("Drain returned %d, applied %d", n, len(got))
	}
	return got, err
}

func (f *fakeRing) entryAddr(i uint32) uint64 {
	return binary.LittleEndian.Uint64(f.page[ringEntries+int(i)*ringEntrySize:])
}

func TestCoalescedRingSize(t *testing.T) {
	// KVM_COALESCED_MMIO_MAX with 4 KiB pages (gcc, <linux/kvm.h>).
	if n := newFakeRing(t).r.Entries(); n != 170 {
		t.Fatalf("entries %d, want 170", n)
	}
	if _, err := NewCoalescedRing(make([]byte, 40)); err == nil {
		t.Fatal("a 40-byte ring accepted")
	}
	if _, err := NewCoalescedRing(make([]byte, 4100)[4:]); err == nil {
		t.Fatal("a misaligned ring accepted")
	}
}

func TestCoalescedRingEmpty(t *testing.T) {
	f := newFakeRing(t)
	if !f.r.Empty() {
		t.Fatal("a new ring is not empty")
	}
	got, err := f.drain()
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
	f.setIndices(77, 77)
	if got, err := f.drain(); err != nil || len(got) != 0 || f.first() != 77 {
		t.Fatalf("got %v, %v, first %d", got, err, f.first())
	}
}

func TestCoalescedRingInOrder(t *testing.T) {
	f := newFakeRing(t)
	f.push(0x3f8, true, []byte{'h'})
	f.push(0xcf8, true, []byte{0, 8, 0, 0x80})
	f.push(0xfeb00000, false, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.push(0x3f8, true, []byte{'i'})
	if f.r.Empty() {
		t.Fatal("Empty with 4 entries")
	}
	got, err := f.drain()
	want := "p3f8:68 pcf8:00080080 mfeb00000:0102030405060708 p3f8:69"
	if err != nil || strings.Join(got, " ") != want {
		t.Fatalf("got %v, %v; want %s", got, err, want)
	}
	if f.first() != 4 || f.last() != 4 || !f.r.Empty() {
		t.Fatalf("first %d last %d after the drain", f.first(), f.last())
	}
}

func TestCoalescedRingWrapsAround(t *testing.T) {
	f := newFakeRing(t)
	f.setIndices(167, 167)
	var want []string
	for i := 0; i < 6; i++ {
		if !f.push(0x3f8, true, []byte{byte('a' + i)}) {
			t.Fatal("ring full")
		}
		want = append(want, fmt.Sprintf("p3f8:%x", 'a'+i))
	}
	if f.last() != 3 {
		t.Fatalf("last %d, want 3 (wrapped)", f.last())
	}
	got, err := f.drain()
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if f.first() != 3 {
		t.Fatalf("first %d, want 3", f.first())
	}
}

func TestCoalescedRingFull(t *testing.T) {
	f := newFakeRing(t)
	f.setIndices(100, 100)
	n := 0
	for f.push(0xcf8, true, []byte{byte(n), 0, 0, 0x80}) {
		n++
	}
	if n != 169 {
		t.Fatalf("the ring took %d entries, want 169 (one stays free)", n)
	}
	got, err := f.drain()
	if err != nil || len(got) != 169 {
		t.Fatalf("drained %d, %v", len(got), err)
	}
	for i, g := range got {
		if want := fmt.Sprintf("pcf8:%02x000080", i); g != want {
			t.Fatalf("entry %d: %s, want %s", i, g, want)
		}
	}
	if !f.push(0x3f8, true, []byte{'x'}) {
		t.Fatal("no room after the drain")
	}
}

// TestCoalescedRingHostileIndices: indices out of range are refused without
// touching anything; a bad entry length is skipped and the rest applied.
func TestCoalescedRingHostileIndices(t *testing.T) {
	for _, c := range []struct{ first, last uint32 }{
		{0, 170}, {0, 0xffffffff}, {170, 3}, {0x80000000, 0}, {171, 171},
	} {
		f := newFakeRing(t)
		f.setIndices(c.first, c.last)
		got, err := f.drain()
		if err == nil || len(got) != 0 {
			t.Errorf("first %d last %d: got %v, %v", c.first, c.last, got, err)
		}
		if f.first() != c.first || f.last() != c.last {
			t.Errorf("first %d last %d: indices changed to %d, %d", c.first, c.last, f.first(), f.last())
		}
	}

	f := newFakeRing(t)
	f.push(0x3f8, true, []byte{'a'})
	f.push(0x3f8, true, []byte{'b'})
	f.push(0x3f8, true, []byte{'c'})
	f.push(0x3f8, true, []byte{'d'})
	binary.LittleEndian.PutUint32(f.page[ringEntries+1*ringEntrySize+ringEntryLen:], 0)
	binary.LittleEndian.PutUint32(f.page[ringEntries+2*ringEntrySize+ringEntryLen:], 0xffffffff)
	got, err := f.drain()
	if err == nil || strings.Join(got, " ") != "p3f8:61 p3f8:64" {
		t.Fatalf("got %v, %v", got, err)
	}
	if f.first() != 4 {
		t.Fatalf("first %d, want 4", f.first())
	}
}

// TestCoalescedRingDataIsACopy: a write's Data is not the shared page.
func TestCoalescedRingDataIsACopy(t *testing.T) {
	f := newFakeRing(t)
	f.push(0x3f8, true, []byte{'a'})
	f.r.Drain(func(w CoalescedWrite) {
		w.Data[0] = 'z'
	})
	if f.page[ringEntries+ringEntryData] != 'a' {
		t.Fatal("Drain handed out the ring's own bytes")
	}
}
