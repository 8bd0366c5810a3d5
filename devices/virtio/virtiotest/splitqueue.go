package virtiotest

import (
	"errors"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/memory"
)

// Buffer is one buffer of a chain the fake driver adds.
type Buffer struct {
	Addr memory.GuestAddress
	Len  uint32
	// Write marks a device-writable buffer.
	Write bool
}

// Used is one used-ring element.
type Used struct {
	ID, Len uint32
}

// SplitQueue is the driver's side of a split virtqueue (virtio 1.2 §2.7)
// laid out in test memory.
type SplitQueue struct {
	Mem  *memory.Memory
	Size uint16
	// Desc, Avail and Used are the three parts' guest addresses.
	Desc, Avail, Used memory.GuestAddress
	// nextDesc is the next descriptor index handed out (wrapping);
	// availIdx the driver's avail.idx; lastUsed the next used entry to read.
	nextDesc, availIdx, lastUsed uint16
}

// NewSplitQueue lays out a queue of size entries at base (16-byte aligned)
// and zeroes it.
func NewSplitQueue(mem *memory.Memory, base memory.GuestAddress, size uint16) (*SplitQueue, error) {
	q := &SplitQueue{Mem: mem, Size: size, Desc: base}
	q.Avail = base + memory.GuestAddress(16*uint64(size))
	q.Used = (q.Avail + memory.GuestAddress(6+2*uint64(size)) + 3) &^ 3
	end := q.Used + memory.GuestAddress(6+8*uint64(size))
	if err := mem.Zero(base, uint64(end-base)); err != nil {
		return nil, err
	}
	return q, nil
}

// Footprint is the number of bytes NewSplitQueue uses for size entries.
func Footprint(size uint16) uint64 {
	avail := 16 * uint64(size)
	used := (avail + 6 + 2*uint64(size) + 3) &^ 3
	return used + 6 + 8*uint64(size)
}

// WriteDesc stores a raw descriptor at index i of the descriptor table; it
// lets hostile tests build anything.
func (q *SplitQueue) WriteDesc(i uint16, addr uint64, length uint32, flags, next uint16) error {
	return WriteDescAt(q.Mem, q.Desc+memory.GuestAddress(16*uint64(i)), addr, length, flags, next)
}

// WriteDescAt stores a raw descriptor at a (an indirect table entry, say).
func WriteDescAt(mem *memory.Memory, a memory.GuestAddress, addr uint64, length uint32, flags, next uint16) error {
	if err := mem.PutUint64(a, addr); err != nil {
		return err
	}
	if err := mem.PutUint32(a+8, length); err != nil {
		return err
	}
	if err := mem.PutUint16(a+12, flags); err != nil {
		return err
	}
	return mem.PutUint16(a+14, next)
}

// AddChain writes bufs as a chain of consecutive descriptors and makes it
// available. It returns the head index.
func (q *SplitQueue) AddChain(bufs ...Buffer) (uint16, error) {
	if len(bufs) == 0 || len(bufs) > int(q.Size) {
		return 0, errors.New("virtiotest: bad chain length")
	}
	head := q.nextDesc % q.Size
	for i, b := range bufs {
		idx := (head + uint16(i)) % q.Size
		var flags, next uint16
		if b.Write {
			flags |= virtio.DescFWrite
		}
		if i+1 < len(bufs) {
			flags |= virtio.DescFNext
			next = (idx + 1) % q.Size
		}
		if err := q.WriteDesc(idx, uint64(b.Addr), b.Len, flags, next); err != nil {
			return 0, err
		}
	}
	q.nextDesc += uint16(len(bufs))
	return head, q.Publish(head)
}

// AddIndirect writes bufs as an indirect table at table and makes a chain
// of one VIRTQ_DESC_F_INDIRECT descriptor pointing at it available.
func (q *SplitQueue) AddIndirect(table memory.GuestAddress, bufs ...Buffer) (uint16, error) {
	for i, b := range bufs {
		var flags, next uint16
		if b.Write {
			flags |= virtio.DescFWrite
		}
		if i+1 < len(bufs) {
			flags |= virtio.DescFNext
			next = uint16(i + 1)
		}
		if err := WriteDescAt(q.Mem, table+memory.GuestAddress(16*i), uint64(b.Addr), b.Len, flags, next); err != nil {
			return 0, err
		}
	}
	head := q.nextDesc % q.Size
	q.nextDesc++
	if err := q.WriteDesc(head, uint64(table), uint32(16*len(bufs)), virtio.DescFIndirect, 0); err != nil {
		return 0, err
	}
	return head, q.Publish(head)
}

// Publish puts head in the available ring and advances avail.idx.
func (q *SplitQueue) Publish(head uint16) error {
	slot := q.Avail + 4 + memory.GuestAddress(2*uint64(q.availIdx%q.Size))
	if err := q.Mem.PutUint16(slot, head); err != nil {
		return err
	}
	q.availIdx++
	memory.Fence()
	return q.Mem.PutUint16(q.Avail+2, q.availIdx)
}

// SetAvailIdx stores a raw avail.idx (hostile tests).
func (q *SplitQueue) SetAvailIdx(v uint16) error {
	q.availIdx = v
	return q.Mem.PutUint16(q.Avail+2, v)
}

// SetAvailFlags stores avail.flags (VIRTQ_AVAIL_F_NO_INTERRUPT).
func (q *SplitQueue) SetAvailFlags(f uint16) error { return q.Mem.PutUint16(q.Avail, f) }

// SetUsedEvent stores used_event (VIRTIO_F_EVENT_IDX).
func (q *SplitQueue) SetUsedEvent(v uint16) error {
	return q.Mem.PutUint16(q.Avail+4+memory.GuestAddress(2*uint64(q.Size)), v)
}

// AvailEvent reads avail_event (VIRTIO_F_EVENT_IDX).
func (q *SplitQueue) AvailEvent() (uint16, error) {
	return q.Mem.Uint16(q.Used + 4 + memory.GuestAddress(8*uint64(q.Size)))
}

// UsedIdx reads used.idx.
func (q *SplitQueue) UsedIdx() (uint16, error) { return q.Mem.Uint16(q.Used + 2) }

// PopUsed returns the next used element, if the device has published one.
func (q *SplitQueue) PopUsed() (Used, bool, error) {
	idx, err := q.UsedIdx()
	if err != nil || idx == q.lastUsed {
		return Used{}, false, err
	}
	e := q.Used + 4 + memory.GuestAddress(8*uint64(q.lastUsed%q.Size))
	id, err := q.Mem.Uint32(e)
	if err != nil {
		return Used{}, false, err
	}
	l, err := q.Mem.Uint32(e + 4)
	if err != nil {
		return Used{}, false, err
	}
	q.lastUsed++
	// Like Linux's virtqueue_enable_cb: with VIRTIO_F_EVENT_IDX, ask for
	// an interrupt at the next used entry (harmless without it).
	if err := q.SetUsedEvent(q.lastUsed); err != nil {
		return Used{}, false, err
	}
	return Used{id, l}, true, nil
}
