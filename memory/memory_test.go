package memory

import (
	"bytes"
	"errors"
	"testing"
)

// twoRegions is 4 KiB at 0 and 4 KiB at 1 MiB, backed by plain slices.
func twoRegions(t *testing.T) (*Memory, []byte, []byte) {
	t.Helper()
	low, high := make([]byte, 4096), make([]byte, 4096)
	m, err := New(Region{Start: 0x100000, Data: high}, Region{Start: 0, Data: low})
	if err != nil {
		t.Fatal(err)
	}
	return m, low, high
}

func TestAccessorsAreLittleEndianAndHitTheRightRegion(t *testing.T) {
	m, low, high := twoRegions(t)
	if err := m.PutUint32(0x10, 0x11223344); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(low[0x10:0x14], []byte{0x44, 0x33, 0x22, 0x11}) {
		t.Fatalf("PutUint32 wrote % x", low[0x10:0x14])
	}
	if err := m.PutUint64(0x100ff8, 0x0102030405060708); err != nil {
		t.Fatal(err)
	}
	if high[0xff8] != 0x08 || high[0xfff] != 0x01 {
		t.Fatalf("PutUint64 at the end of the high region wrote % x", high[0xff8:])
	}
	if v, err := m.Uint16(0x100ffe); err != nil || v != 0x0102 {
		t.Fatalf("Uint16 = %#x, %v", v, err)
	}
	if v, err := m.Uint64(0x100ff8); err != nil || v != 0x0102030405060708 {
		t.Fatalf("Uint64 = %#x, %v", v, err)
	}
	if err := m.PutUint8(0x0, 0xaa); err != nil || low[0] != 0xaa {
		t.Fatal("PutUint8")
	}
	if v, _ := m.Uint8(0); v != 0xaa {
		t.Fatal("Uint8")
	}
	if err := m.PutUint16(2, 0xbeef); err != nil || low[2] != 0xef || low[3] != 0xbe {
		t.Fatal("PutUint16")
	}
	if v, _ := m.Uint32(0x10); v != 0x11223344 {
		t.Fatal("Uint32")
	}
	buf := make([]byte, 4)
	if err := m.Read(0x10, buf); err != nil || !bytes.Equal(buf, []byte{0x44, 0x33, 0x22, 0x11}) {
		t.Fatal("Read")
	}
	if err := m.Write(0x20, []byte("abc")); err != nil || string(low[0x20:0x23]) != "abc" {
		t.Fatal("Write")
	}
	if err := m.Zero(0x20, 3); err != nil || low[0x20] != 0 {
		t.Fatal("Zero")
	}
	if m.Size() != 8192 || len(m.Regions()) != 2 || m.Regions()[0].Start != 0 {
		t.Fatal("Size/Regions")
	}
}

func TestOutOfRangeAccessesFail(t *testing.T) {
	m, _, _ := twoRegions(t)
	for _, c := range []struct {
		addr GuestAddress
		n    uint64
	}{
		{0x1000, 1},                // just past the low region
		{0xfff, 2},                 // straddles the end of the low region
		{0x0ffffe, 4},              // straddles the start of the high region
		{0x101000, 1},              // past the high region
		{0xffffffffffffffff, 2},    // wraps the address space
		{0x10, 0xfffffffffffffff8}, // a length that wraps
		{0x80000, 8},               // the hole between the regions
	} {
		if _, err := m.Slice(c.addr, c.n); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Slice(%#x, %#x): %v, want ErrOutOfRange", c.addr, c.n, err)
		}
		if m.Contains(c.addr, c.n) {
			t.Errorf("Contains(%#x, %#x)", c.addr, c.n)
		}
	}
	if _, err := m.Uint64(0xffc); err == nil {
		t.Error("Uint64 across the region end")
	}
	if err := m.PutUint32(0x100ffe, 1); err == nil {
		t.Error("PutUint32 across the region end")
	}
	if err := m.Write(0xfff, []byte{1, 2}); err == nil {
		t.Error("Write across the region end")
	}
	var zero Memory
	if _, err := zero.Uint8(0); err == nil {
		t.Error("the zero Memory accepted an access")
	}
	var re *RangeError
	if _, err := m.Slice(0x2000, 3); !errors.As(err, &re) || re.Addr != 0x2000 || re.Len != 3 {
		t.Errorf("RangeError = %+v", re)
	}
}

func TestSliceAliasesAndIsCapped(t *testing.T) {
	m, low, _ := twoRegions(t)
	s, err := m.Slice(0x100, 4)
	if err != nil {
		t.Fatal(err)
	}
	s[0] = 7
	if low[0x100] != 7 {
		t.Fatal("Slice does not alias guest memory")
	}
	if cap(s) != 4 {
		t.Fatalf("cap %d: append could write past the access", cap(s))
	}
}

func TestNewRejectsBadRegions(t *testing.T) {
	if _, err := New(Region{Start: 0, Data: make([]byte, 0x2000)}, Region{Start: 0x1000, Data: make([]byte, 0x1000)}); err == nil {
		t.Error("overlap accepted")
	}
	if _, err := New(Region{Start: 0, Data: nil}); err == nil {
		t.Error("empty region accepted")
	}
	if _, err := New(Region{Start: 0xfffffffffffff000, Data: make([]byte, 0x2000)}); err == nil {
		t.Error("wrapping region accepted")
	}
}

func TestMapAnonymous(t *testing.T) {
	b, err := MapAnonymous(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(b)
	if len(b) != 1<<20 || b[12345] != 0 {
		t.Fatal("mapping is not zeroed 1 MiB")
	}
	b[12345] = 1
}

func FuzzSlice(f *testing.F) {
	f.Add(uint64(0xfff), uint64(2))
	f.Fuzz(func(t *testing.T, addr, n uint64) {
		m, _, _ := twoRegions(t)
		s, err := m.Slice(GuestAddress(addr), n)
		if err == nil && uint64(len(s)) != n {
			t.Fatalf("len %d, want %d", len(s), n)
		}
	})
}
