package kvm

import (
	"sync/atomic"
	"unsafe"
)

// loadU32 and storeU32 access a u32 of the coalesced ring that the kernel
// reads or writes concurrently. sync/atomic's operations are sequentially
// consistent, which includes the acquire (load) and release (store)
// ordering the ring needs (coalesced.go), and keep the compiler from
// caching or reordering the access. off must be 4-byte aligned in an
// 8-byte aligned page (NewCoalescedRing checks the page).
func loadU32(page []byte, off int) uint32 {
	_ = page[off+3]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&page[off])))
}

func storeU32(page []byte, off int, v uint32) {
	_ = page[off+3]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&page[off])), v)
}

// aligned8 reports whether b starts on an 8-byte boundary.
func aligned8(b []byte) bool { return uintptr(unsafe.Pointer(&b[0]))%8 == 0 }
