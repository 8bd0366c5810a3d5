package virtio

import (
	"io"

	"github.com/govmm/govmm/memory"
)

// Descriptor is a validated copy of one descriptor (virtio 1.2 §2.7.5): its
// buffer lies inside guest RAM and does not wrap.
type Descriptor struct {
	Addr  memory.GuestAddress
	Len   uint32
	Flags uint16
	Next  uint16
}

// Writable reports whether the device may write the buffer.
func (d Descriptor) Writable() bool { return d.Flags&DescFWrite != 0 }

// Chain is one popped descriptor chain, flattened (indirect tables
// followed). Descs aliases a buffer the queue reuses: a Chain is valid until
// the next Pop on its queue.
type Chain struct {
	// Head is the index the device returns in the used ring.
	Head uint16
	// Descs are the chain's descriptors in order.
	Descs []Descriptor
	// readable and writable are the byte totals of each kind.
	readable, writable uint64
	mem                *memory.Memory
}

// ReadableLen is the total size of the device-readable buffers.
func (c *Chain) ReadableLen() uint64 { return c.readable }

// WritableLen is the total size of the device-writable buffers.
func (c *Chain) WritableLen() uint64 { return c.writable }

// Segments calls fn with the guest memory behind bytes [off, off+n) of the
// chain's writable (or readable) buffers, taken in chain order, one slice
// per descriptor touched. The slices alias guest memory. It returns
// io.ErrUnexpectedEOF if the buffers hold fewer than off+n bytes, and stops
// at fn's first error.
func (c *Chain) Segments(writable bool, off, n uint64, fn func(seg []byte) error) error {
	for _, d := range c.Descs {
		if n == 0 {
			return nil
		}
		if d.Writable() != writable {
			continue
		}
		l := uint64(d.Len)
		if off >= l {
			off -= l
			continue
		}
		take := min(l-off, n)
		seg, err := c.mem.Slice(d.Addr+memory.GuestAddress(off), take)
		if err != nil {
			return err // cannot happen: validated at Pop
		}
		if err := fn(seg); err != nil {
			return err
		}
		off = 0
		n -= take
	}
	if n != 0 {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// ReadAt copies readable bytes [off, off+len(p)) of the chain into p.
func (c *Chain) ReadAt(p []byte, off uint64) error {
	return c.Segments(false, off, uint64(len(p)), func(seg []byte) error {
		p = p[copy(p, seg):]
		return nil
	})
}

// WriteAt copies p into writable bytes [off, off+len(p)) of the chain.
func (c *Chain) WriteAt(p []byte, off uint64) error {
	return c.Segments(true, off, uint64(len(p)), func(seg []byte) error {
		p = p[copy(seg, p):]
		return nil
	})
}
