package virtio

import (
	"errors"

	"golang.org/x/sys/unix"
)

// receive moves frames from the backend into the guest's receive buffers
// (virtio 1.2 §5.1.6.3) until the backend has none or the guest has too
// few buffers for the largest frame; then it waits for a kick.
func (n *Net) receive(q *Queue) error {
	for n.linkUp.Load() {
		ok, err := n.gatherRX(q)
		if err != nil {
			return err
		}
		if !ok {
			// Ask for a kick when the driver adds a buffer, unless
			// one came meanwhile (it may have come without a kick).
			more, err := q.NotifyOnNew()
			if err != nil || more {
				if err == nil {
					continue
				}
				return err
			}
			n.rxStarved = true
			return nil
		}
		more, err := n.readFrame(q)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// gatherRX pops receive chains into n.rx until they can hold a header and
// the largest frame: one chain without VIRTIO_NET_F_MRG_RXBUF (the driver
// then sizes every buffer for a whole frame, §5.1.6.3.1), as many as it
// takes with it. It reports false, with nothing popped, when the queue
// runs out first.
func (n *Net) gatherRX(q *Queue) (bool, error) {
	r := &n.rx
	r.iov, r.heads, r.caps = r.iov[:0], r.heads[:0], r.caps[:0]
	need := uint64(NetHdrLen + n.maxFrame)
	var have uint64
	for have < need {
		c, err := q.Pop()
		if err != nil {
			return false, err
		}
		if c == nil {
			q.Unpop(uint16(len(r.heads)))
			return false, nil
		}
		// §5.1.6.3.1: every receive buffer holds at least the header.
		if c.WritableLen() < NetHdrLen {
			return false, ErrNeedWritable
		}
		// readv takes at most netMaxIOV segments (a longer vector fails
		// before any frame is read, so it would never succeed): a chain
		// that alone has more is broken; one that would push the vector
		// past it waits for the next frame.
		before := len(r.iov)
		err = c.Segments(true, 0, c.WritableLen(), func(seg []byte) error {
			r.iov = append(r.iov, seg)
			return nil
		})
		if err != nil {
			return false, err
		}
		if len(r.iov) > netMaxIOV {
			if len(r.heads) == 0 {
				return false, ErrTooManySegments
			}
			r.iov = r.iov[:before]
			q.Unpop(1)
			break
		}
		r.heads = append(r.heads, c.Head)
		r.caps = append(r.caps, c.WritableLen())
		have += c.WritableLen()
		if n.features&NetFMrgRxBuf == 0 || len(r.heads) == int(q.Size()) {
			break
		}
	}
	return true, nil
}

// readFrame reads one frame into the gathered chains and returns the ones
// it used to the driver, the rest to the queue. It reports whether to try
// for another frame.
func (n *Net) readFrame(q *Queue) (bool, error) {
	r := &n.rx
	total, err := n.readBackend(r.iov)
	if total < 0 || err != nil {
		q.Unpop(uint16(len(r.heads)))
		return total < 0, nil
	}
	// The header: zero flags and GSO (nothing was offered, §5.1.6.4.1),
	// num_buffers the chains used.
	used, left := 0, uint64(total)
	for (left > 0 || used == 0) && used < len(r.caps) {
		left -= min(left, r.caps[used])
		used++
	}
	var hdr [NetHdrLen]byte
	hdr[netHdrNumBuffers] = byte(used)
	hdr[netHdrNumBuffers+1] = byte(used >> 8)
	copyToIOV(r.iov, hdr[:])
	left = uint64(total)
	for i := 0; i < used; i++ {
		w := min(left, r.caps[i])
		if err := q.Push(r.heads[i], uint32(w)); err != nil {
			return false, err
		}
		left -= w
	}
	q.Unpop(uint16(len(r.heads) - used))
	n.rxFrames.Add(1)
	n.rxBytes.Add(uint64(total - NetHdrLen))
	return true, nil
}

// readBackend reads one frame into iov, header included. It returns the
// bytes written with nil error; -1 when a frame was dropped (too large, or
// offloaded) and the next may fit; 0 with an error when there is nothing
// to read or the link went down.
func (n *Net) readBackend(iov [][]byte) (int, error) {
	for {
		got, err := n.readv(iov)
		switch {
		case err == nil && got < 0:
			n.rxDropped.Add(1)
			return -1, nil
		case err == nil:
			return got, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return 0, err
		}
		n.linkDown(err)
		return 0, err
	}
}

// readv is one read from the backend into iov: the header and frame from a
// vnet-hdr backend, the bare frame after room for a header otherwise. It
// returns the bytes in iov, header included, or -1 for a frame that was
// dropped: larger than iov (a tap answers EFAULT or EINVAL and drops it, a
// socket truncates it) or offloaded.
func (n *Net) readv(iov [][]byte) (int, error) {
	if n.vnetHdr {
		got, err := unix.Readv(n.fd, iov)
		if errors.Is(err, unix.EFAULT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EMSGSIZE) {
			return -1, nil
		}
		if err == nil && got == 0 {
			err = unix.ECONNRESET // end of file: the peer closed
		}
		if err == nil && !vnetHdrPlain(iov, got) {
			return -1, nil
		}
		return got, err
	}
	n.rx.body = skipIOV(n.rx.body[:0], iov, NetHdrLen)
	var got, flags int
	var err error
	if n.isSocket {
		got, _, flags, _, err = unix.RecvmsgBuffers(n.fd, n.rx.body, nil, unix.MSG_DONTWAIT)
	} else {
		got, err = unix.Readv(n.fd, n.rx.body)
	}
	switch {
	case err != nil:
		return 0, err
	case got == 0:
		return 0, unix.ECONNRESET // end of stream: the peer closed
	case flags&unix.MSG_TRUNC != 0 || got < netMinFrame:
		return -1, nil
	}
	return NetHdrLen + got, nil
}

// vnetHdrPlain checks the header a tap wrote: a frame the host sent with a
// partial checksum or as a GSO super-frame cannot go to a driver that was
// offered neither (§5.1.6.4.1), so it is dropped; DATA_VALID is cleared.
func vnetHdrPlain(iov [][]byte, got int) bool {
	if got < NetHdrLen+netMinFrame {
		return false
	}
	var h [2]byte
	copyFromIOV(h[:], iov)
	const needsCsum = 1                     // VIRTIO_NET_HDR_F_NEEDS_CSUM
	return h[0]&needsCsum == 0 && h[1] == 0 // gso_type VIRTIO_NET_HDR_GSO_NONE
}

// skipIOV appends to dst the segments of iov past its first off bytes.
func skipIOV(dst, iov [][]byte, off int) [][]byte {
	for _, seg := range iov {
		if off >= len(seg) {
			off -= len(seg)
			continue
		}
		dst = append(dst, seg[off:])
		off = 0
	}
	return dst
}

// copyToIOV copies p to the start of iov.
func copyToIOV(iov [][]byte, p []byte) {
	for _, seg := range iov {
		if len(p) == 0 {
			return
		}
		p = p[copy(seg, p):]
	}
}

// copyFromIOV fills p from the start of iov.
func copyFromIOV(p []byte, iov [][]byte) {
	for _, seg := range iov {
		if len(p) == 0 {
			return
		}
		p = p[copy(p, seg):]
	}
}
