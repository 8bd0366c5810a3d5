package virtiotest

import (
	"fmt"

	"github.com/govmm/govmm/memory"
)

// NewMemory returns size bytes of guest RAM at guest address 0, backed by
// a plain byte slice.
func NewMemory(size int) *memory.Memory {
	m, err := memory.New(memory.Region{Start: 0, Data: make([]byte, size)})
	if err != nil {
		panic(err) // a non-empty region at 0 cannot fail
	}
	return m
}

// Allocator hands out guest memory for rings and buffers, bump-style.
type Allocator struct {
	next, end memory.GuestAddress
}

// NewAllocator allocates from [start, end).
func NewAllocator(start, end memory.GuestAddress) *Allocator {
	return &Allocator{next: start, end: end}
}

// Alloc returns n bytes aligned to align (a power of two).
func (a *Allocator) Alloc(n, align uint64) memory.GuestAddress {
	p := (a.next + memory.GuestAddress(align-1)) &^ memory.GuestAddress(align-1)
	if p+memory.GuestAddress(n) > a.end {
		panic(fmt.Sprintf("virtiotest: out of test memory (%d bytes)", n))
	}
	a.next = p + memory.GuestAddress(n)
	return p
}
