package virtio

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/govmm/govmm/memory"
)

// Queue is the device side of one split virtqueue (virtio 1.2 §2.7). It keeps
// guest addresses and indices only; every access goes through
// *memory.Memory, and every descriptor is copied out of guest memory before
// it is checked, so the guest cannot change it between check and use.
//
// A Queue is used by one goroutine at a time (the device's worker).
type Queue struct {
	mem               *memory.Memory
	size              uint16
	desc, avail, used memory.GuestAddress
	// eventIdx and indirect record the negotiated VIRTIO_F_EVENT_IDX and
	// VIRTIO_F_INDIRECT_DESC.
	eventIdx, indirect bool

	// nextAvail is the free-running index of the next available-ring
	// entry to consume; availIdx is the driver's avail.idx as last read.
	nextAvail, availIdx uint16
	// nextUsed is the free-running used index; signalled is its value at
	// the last interrupt decision (for VIRTIO_F_EVENT_IDX).
	nextUsed, signalled uint16

	// waitNew is set by NotifyOnNew until the next Pop: the device waits
	// for a buffer past waitIdx, not for the next unused one.
	waitNew bool
	waitIdx uint16

	// chain and descs are reused by every Pop: no allocation per chain.
	chain Chain
	descs []Descriptor

	// Served, when set, counts every chain Push returns to the driver;
	// the transport reads it for statistics from other goroutines.
	Served *atomic.Uint64
}

// NewQueue checks a queue's configuration and returns it. size must be a
// power of two no larger than 32768 (§2.7); the three parts must be aligned
// (descriptor table 16, available ring 2, used ring 4) and lie in RAM.
// features are the negotiated feature bits.
func NewQueue(mem *memory.Memory, size uint16, desc, avail, used memory.GuestAddress, features uint64) (*Queue, error) {
	if size == 0 || size&(size-1) != 0 || size > MaxQueueSize {
		return nil, fmt.Errorf("%w: size %d is not a power of two <= %d", ErrBadQueue, size, MaxQueueSize)
	}
	if desc%16 != 0 || avail%2 != 0 || used%4 != 0 {
		return nil, fmt.Errorf("%w: misaligned rings (desc %#x avail %#x used %#x)", ErrBadQueue, uint64(desc), uint64(avail), uint64(used))
	}
	if !mem.Contains(desc, descTableSize(size)) || !mem.Contains(avail, availRingSize(size)) || !mem.Contains(used, usedRingSize(size)) {
		return nil, fmt.Errorf("%w: rings outside guest memory", ErrBadQueue)
	}
	return &Queue{
		mem: mem, size: size, desc: desc, avail: avail, used: used,
		eventIdx: features&FeatureEventIdx != 0,
		indirect: features&FeatureIndirectDesc != 0,
		descs:    make([]Descriptor, 0, size),
	}, nil
}

// Size is the queue size.
func (q *Queue) Size() uint16 { return q.size }

// NextAvail is the free-running index of the next chain Pop will return;
// it counts chains consumed.
func (q *Queue) NextAvail() uint16 { return q.nextAvail }

// Pop returns the next available chain, or nil when there is none. An error
// means the queue is broken (see errors.go) and must not be used again
// before a reset.
func (q *Queue) Pop() (*Chain, error) {
	q.waitNew = false
	if q.nextAvail == q.availIdx {
		idx, err := q.mem.Uint16(q.avail + 2)
		if err != nil {
			return nil, err
		}
		if uint16(idx-q.nextAvail) > q.size {
			return nil, ErrAvailIndex
		}
		q.availIdx = idx
		if idx == q.nextAvail {
			return nil, nil
		}
		// Read the ring entries and descriptors only after the index
		// that published them (§2.7.13.3).
		memory.Fence()
	}
	slot := uint64(q.nextAvail & (q.size - 1))
	head, err := q.mem.Uint16(q.avail + ringHeaderLen + memory.GuestAddress(2*slot))
	if err != nil {
		return nil, err
	}
	q.nextAvail++
	if err := q.readChain(head); err != nil {
		return nil, err
	}
	return &q.chain, nil
}

// Unpop gives back the last n chains Pop returned, which were not pushed:
// the next Pop returns them again, re-read from guest memory. A device
// that popped buffers it turned out not to need (the host had no frame
// for them) uses it.
func (q *Queue) Unpop(n uint16) {
	q.nextAvail -= n
}

// readChain copies and checks the chain starting at head (§2.7.5,
// §2.7.5.3). The TTL is the size of the table being walked, so a loop ends
// with ErrChainTooLong.
func (q *Queue) readChain(head uint16) error {
	q.descs = q.descs[:0]
	c := &q.chain
	*c = Chain{Head: head, mem: q.mem}
	table, tableLen := q.desc, uint32(q.size)
	ttl := tableLen
	idx := uint32(head)
	indirect := false
	var raw [descSize]byte
	for {
		if idx >= tableLen {
			return ErrDescIndex
		}
		if ttl == 0 {
			return ErrChainTooLong
		}
		ttl--
		if err := q.mem.Read(table+memory.GuestAddress(descSize*uint64(idx)), raw[:]); err != nil {
			return err
		}
		d := Descriptor{
			Addr:  memory.GuestAddress(binary.LittleEndian.Uint64(raw[0:])),
			Len:   binary.LittleEndian.Uint32(raw[8:]),
			Flags: binary.LittleEndian.Uint16(raw[12:]),
			Next:  binary.LittleEndian.Uint16(raw[14:]),
		}
		if err := q.checkBuffer(d); err != nil {
			return err
		}
		if d.Flags&DescFIndirect != 0 {
			switch {
			case indirect:
				return ErrNestedIndirect
			case !q.indirect:
				return ErrIndirectDisabled
			case d.Flags&DescFNext != 0:
				return ErrIndirectNext
			case d.Len == 0 || d.Len%descSize != 0 || d.Len/descSize > MaxQueueSize:
				return ErrIndirectLen
			}
			// §2.7.5.3.1: the table's own WRITE flag is ignored.
			indirect = true
			table, tableLen, ttl, idx = d.Addr, d.Len/descSize, d.Len/descSize, 0
			continue
		}
		q.descs = append(q.descs, d)
		if d.Writable() {
			c.writable += uint64(d.Len)
		} else {
			c.readable += uint64(d.Len)
		}
		if d.Flags&DescFNext == 0 {
			break
		}
		idx = uint32(d.Next)
	}
	c.Descs = q.descs
	return nil
}

// checkBuffer rejects a buffer that wraps or leaves guest RAM.
func (q *Queue) checkBuffer(d Descriptor) error {
	if uint64(d.Addr)+uint64(d.Len) < uint64(d.Addr) {
		return ErrDescWraps
	}
	if !q.mem.Contains(d.Addr, uint64(d.Len)) {
		return ErrDescRange
	}
	return nil
}

// Push returns chain head to the driver with written bytes in it (§2.7.8).
func (q *Queue) Push(head uint16, written uint32) error {
	slot := uint64(q.nextUsed & (q.size - 1))
	e := q.used + ringHeaderLen + memory.GuestAddress(usedElemSize*slot)
	if err := q.mem.PutUint32(e, uint32(head)); err != nil {
		return err
	}
	if err := q.mem.PutUint32(e+4, written); err != nil {
		return err
	}
	q.nextUsed++
	if q.Served != nil {
		q.Served.Add(1)
	}
	// The element must be visible before the index that publishes it.
	memory.Fence()
	return q.mem.PutUint16(q.used+2, q.nextUsed)
}

// NeedsInterrupt reports whether the driver wants a used-buffer
// notification for what was pushed since the last call (§2.7.7.2, §2.7.10):
// with VIRTIO_F_EVENT_IDX when the used index passed used_event, otherwise
// unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT.
func (q *Queue) NeedsInterrupt() (bool, error) {
	if q.nextUsed == q.signalled {
		return false, nil
	}
	// Store (used idx) then load (suppression field): x86 needs a full
	// fence for this order.
	memory.Fence()
	old := q.signalled
	q.signalled = q.nextUsed
	if q.eventIdx {
		ev, err := q.mem.Uint16(q.avail + ringHeaderLen + memory.GuestAddress(2*uint64(q.size)))
		if err != nil {
			return false, err
		}
		return needEvent(ev, q.nextUsed, old), nil
	}
	flags, err := q.mem.Uint16(q.avail)
	if err != nil {
		return false, err
	}
	return flags&AvailFNoInterrupt == 0, nil
}

// needEvent is vring_need_event (§2.7.10): has the index moved from old to
// new past event?
func needEvent(event, new, old uint16) bool {
	return new-event-1 < new-old
}

// EnableNotify asks the driver to notify the device when it makes the next
// buffer available (with VIRTIO_F_EVENT_IDX: avail_event = next index), then
// reports whether buffers are already available, which the driver may have
// added without notifying before it saw the request (§2.7.10). Without
// VIRTIO_F_EVENT_IDX notifications are never suppressed (used.flags stays 0).
func (q *Queue) EnableNotify() (bool, error) {
	mark := q.nextAvail
	if q.waitNew {
		mark = q.waitIdx
	}
	return q.notifyAt(mark)
}

// NotifyOnNew is for a device that cannot use the buffers already
// available (too few for a frame) and gave them back with Unpop: it asks
// for a notification when the driver adds another one (with
// VIRTIO_F_EVENT_IDX: avail_event = avail.idx, §2.7.10), and reports
// whether one came already. EnableNotify keeps that request until the next
// Pop.
func (q *Queue) NotifyOnNew() (bool, error) {
	idx, err := q.mem.Uint16(q.avail + 2)
	if err != nil {
		return false, err
	}
	if uint16(idx-q.nextAvail) > q.size {
		return false, ErrAvailIndex
	}
	q.waitNew, q.waitIdx = true, idx
	return q.notifyAt(idx)
}

// notifyAt sets avail_event to mark (with VIRTIO_F_EVENT_IDX) and reports
// whether avail.idx has moved past it.
func (q *Queue) notifyAt(mark uint16) (bool, error) {
	if q.eventIdx {
		if err := q.mem.PutUint16(q.used+ringHeaderLen+memory.GuestAddress(usedElemSize*uint64(q.size)), mark); err != nil {
			return false, err
		}
	}
	memory.Fence()
	idx, err := q.mem.Uint16(q.avail + 2)
	if err != nil {
		return false, err
	}
	return idx != mark, nil
}
