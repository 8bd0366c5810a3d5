package kvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// Coalesced writes (api.rst 4.116-4.117, KVM_(UN)REGISTER_COALESCED_MMIO).
// A guest write that falls inside a registered zone does not exit to user
// space: KVM appends it to a ring, one page shared by the whole VM, and lets
// the guest run on. The VMM applies the ring's writes later, in order. A
// read never coalesces: it exits as usual.
//
// The ring is struct kvm_coalesced_mmio_ring: u32 first, u32 last, then
// entries of struct kvm_coalesced_mmio {u64 phys_addr; u32 len; u32 pio;
// u8 data[8]} up to the end of the page. KVM owns last and the entries
// from last onwards; user space owns first and the entries from first to
// last. The ring is empty when first == last and full when one free entry
// is left (KVM never fills the last one, so that full and empty differ).
//
// Memory ordering, as in KVM's coalesced_mmio_write (virt/kvm/
// coalesced_mmio.c) and QEMU's kvm_flush_coalesced_mmio_buffer
// (accel/kvm/kvm-all.c):
//
//   - KVM, under its ring lock, writes the entry at last, issues smp_wmb()
//     and only then stores last+1. Drain reads last with an atomic load
//     (acquire), so every entry before that last is completely written
//     when Drain reads it; plain reads of the entries are then enough.
//   - Drain copies an entry out, applies it, and only then stores first+1
//     with an atomic store (release): KVM reads first (READ_ONCE, under its
//     lock) to decide whether there is room, so it cannot reuse the slot
//     before Drain is done with it. A KVM that sees a stale first only
//     thinks the ring fuller than it is, and a write to a full ring exits
//     to user space as if it were not coalesced.
//
// The page is shared with the kernel, and user space can write it too, so
// Drain trusts neither index: an out-of-range first or last stops it with
// an error (KVM itself then refuses to coalesce: coalesced_mmio_write
// checks last too, and every write exits), and an entry whose length is
// not 1 to 8 is skipped and reported.

// coalescedZone is struct kvm_coalesced_mmio_zone.
type coalescedZone struct {
	Addr uint64
	Size uint32
	// PIO is the union of pad and pio: 1 for a port range.
	PIO uint32
}

// CoalescedZone is a guest address range whose writes KVM coalesces.
type CoalescedZone struct {
	Addr uint64
	Size uint32
	// PIO selects the port I/O space (KVM_CAP_COALESCED_PIO) instead of
	// MMIO.
	PIO bool
}

func (z CoalescedZone) String() string {
	space := "MMIO"
	if z.PIO {
		space = "port"
	}
	if z.Size <= 1 {
		return fmt.Sprintf("%s %#x", space, z.Addr)
	}
	return fmt.Sprintf("%s %#x-%#x", space, z.Addr, z.Addr+uint64(z.Size)-1)
}

func (z CoalescedZone) raw() *coalescedZone {
	k := &coalescedZone{Addr: z.Addr, Size: z.Size}
	if z.PIO {
		k.PIO = 1
	}
	return k
}

// RegisterCoalesced makes KVM coalesce guest writes to z
// (KVM_REGISTER_COALESCED_MMIO).
func (vm *VM) RegisterCoalesced(z CoalescedZone) error {
	if _, err := ioctlPtr(vm.fd, ioctlRegisterCoalescedMMIO, z.raw()); err != nil {
		return fmt.Errorf("KVM_REGISTER_COALESCED_MMIO(%v): %w", z, err)
	}
	return nil
}

// UnregisterCoalesced removes the zones inside z
// (KVM_UNREGISTER_COALESCED_MMIO): writes there exit again. Writes already
// in the ring stay there until drained.
func (vm *VM) UnregisterCoalesced(z CoalescedZone) error {
	if _, err := ioctlPtr(vm.fd, ioctlUnregisterCoalescedMMIO, z.raw()); err != nil {
		return fmt.Errorf("KVM_UNREGISTER_COALESCED_MMIO(%v): %w", z, err)
	}
	return nil
}

// Ring layout (struct kvm_coalesced_mmio_ring, struct kvm_coalesced_mmio).
const (
	ringFirst       = 0
	ringLast        = 4
	ringEntries     = 8
	ringEntrySize   = 24
	ringEntryLen    = 8  // u32 len
	ringEntryPIO    = 12 // u32 pio
	ringEntryData   = 16 // u8 data[8]
	ringMaxDataSize = 8
)

// CoalescedWrite is one write taken from the ring.
type CoalescedWrite struct {
	Addr uint64
	PIO  bool
	// Data holds the bytes written (1 to 8). It is valid only during the
	// callback that receives it.
	Data []byte
}

// CoalescedRing is the VM's ring of coalesced writes. Drain must not run
// concurrently with itself: callers serialize it (one mutex per VM).
type CoalescedRing struct {
	page []byte
	// max is KVM_COALESCED_MMIO_MAX: the number of entries in the page.
	max uint32
	buf [ringMaxDataSize]byte
}

// NewCoalescedRing wraps page, one page of memory laid out as struct
// kvm_coalesced_mmio_ring (the VCPU mapping's page at the offset
// CapCoalescedMMIO reports, or a fake one in tests). page must be 8-byte
// aligned.
func NewCoalescedRing(page []byte) (*CoalescedRing, error) {
	if len(page) < ringEntries+2*ringEntrySize {
		return nil, fmt.Errorf("coalesced ring: %d bytes is too small", len(page))
	}
	if !aligned8(page) {
		return nil, errors.New("coalesced ring: page not 8-byte aligned")
	}
	return &CoalescedRing{page: page, max: uint32((len(page) - ringEntries) / ringEntrySize)}, nil
}

// CoalescedRing returns the VM's ring as mapped through this VCPU's kvm_run
// mapping: pageOffset is what CheckExtension(CapCoalescedMMIO) returned.
// The ring lives as long as the mapping (until Close).
func (v *VCPU) CoalescedRing(pageOffset int) (*CoalescedRing, error) {
	ps := os.Getpagesize()
	if pageOffset <= 0 || (pageOffset+1)*ps > len(v.run) {
		return nil, fmt.Errorf("coalesced ring at page %d is outside the %d-byte VCPU mapping", pageOffset, len(v.run))
	}
	return NewCoalescedRing(v.run[pageOffset*ps : (pageOffset+1)*ps])
}

// Entries is the ring's capacity in entries (KVM_COALESCED_MMIO_MAX); at
// most Entries-1 are ever pending.
func (r *CoalescedRing) Entries() int { return int(r.max) }

// Empty reports whether the ring holds no write, without taking anything
// from it. Safe to call concurrently with Drain.
func (r *CoalescedRing) Empty() bool {
	return loadU32(r.page, ringFirst) == loadU32(r.page, ringLast)
}

// Drain applies, in ring order, every write KVM had queued when Drain read
// last: fn receives each, and the slot is handed back to KVM once fn has
// returned. It returns how many writes fn received. An error means the
// ring's indices are out of range (nothing was taken) or some entries had
// a bad length (they were skipped; the rest were applied).
func (r *CoalescedRing) Drain(fn func(CoalescedWrite)) (int, error) {
	first := loadU32(r.page, ringFirst)
	last := loadU32(r.page, ringLast) // acquire: pairs with KVM's smp_wmb
	if first >= r.max || last >= r.max {
		return 0, fmt.Errorf("coalesced ring: first %d, last %d, not below %d", first, last, r.max)
	}
	n, bad := 0, 0
	for first != last {
		e := r.page[ringEntries+int(first)*ringEntrySize:][:ringEntrySize]
		size := binary.LittleEndian.Uint32(e[ringEntryLen:])
		if size >= 1 && size <= ringMaxDataSize {
			w := CoalescedWrite{
				Addr: binary.LittleEndian.Uint64(e),
				PIO:  binary.LittleEndian.Uint32(e[ringEntryPIO:]) != 0,
				Data: r.buf[:size],
			}
			copy(w.Data, e[ringEntryData:])
			fn(w)
			n++
		} else {
			bad++
		}
		first = (first + 1) % r.max
		storeU32(r.page, ringFirst, first) // release: the slot is KVM's again
	}
	if bad > 0 {
		return n, fmt.Errorf("coalesced ring: skipped %d entries with a length outside 1-8", bad)
	}
	return n, nil
}
