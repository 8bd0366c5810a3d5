package memory

import (
	"testing"
	"unsafe"
)

// TestMapAnonymousIsHugePageAligned: guest RAM starts on a 2 MiB boundary
// (so THP can back it), has exactly the size asked for, is zero and
// writable from end to end, and unmaps cleanly.
func TestMapAnonymousIsHugePageAligned(t *testing.T) {
	for _, size := range []uint64{4 << 10, 2 << 20, 3<<20 + 4<<10, 64 << 20} {
		b, err := MapAnonymous(size)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(b)) != size {
			t.Fatalf("size %#x: got %#x bytes", size, len(b))
		}
		if a := uintptr(unsafe.Pointer(unsafe.SliceData(b))); a%hugePageSize != 0 {
			t.Fatalf("size %#x: mapping at %#x is not 2 MiB aligned", size, a)
		}
		if b[0] != 0 || b[len(b)-1] != 0 {
			t.Fatalf("size %#x: fresh memory is not zero", size)
		}
		b[0], b[len(b)-1] = 1, 2
		if err := Unmap(b); err != nil {
			t.Fatalf("size %#x: %v", size, err)
		}
	}
}
