package memory

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hugePageSize is the x86-64 transparent huge page size (PMD level).
const hugePageSize = 2 << 20

// MapAnonymous returns size bytes of private anonymous host memory for guest
// RAM. MAP_NORESERVE means untouched guest pages cost the host nothing.
//
// The mapping starts on a 2 MiB boundary and is marked MADV_HUGEPAGE
// (madvise(2)), so that the host can back guest RAM with transparent huge
// pages and KVM can map it with 2 MiB entries in its nested page tables: a
// guest then takes one nested page fault per 2 MiB it touches instead of one
// per 4 KiB, which matters most where each fault is expensive (a nested
// host). Where THP is off, the advice is ignored and nothing changes.
func MapAnonymous(size uint64) ([]byte, error) {
	b, err := mapAligned(size, hugePageSize)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes of guest memory: %w", size, err)
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // advice only: EINVAL without THP
	return b, nil
}

// Unmap releases memory returned by MapAnonymous.
func Unmap(b []byte) error { return unmap(b) }
