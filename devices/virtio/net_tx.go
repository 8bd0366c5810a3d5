package virtio

import (
	"errors"

	"golang.org/x/sys/unix"
)

// netMaxIOV is the most segments one frame may have: writev's IOV_MAX.
const netMaxIOV = 1024

// transmit sends the guest's frames (virtio 1.2 §5.1.6.2): each chain is a
// header and a frame in device-readable buffers. The frame goes to the
// backend straight from guest memory; the guest's header is not passed on,
// since no offload was offered (a vnet-hdr backend gets a zero header).
// Each chain is returned with 0 bytes written.
func (n *Net) transmit(q *Queue) error {
	n.txBlocked = false
	for {
		c, err := q.Pop()
		if err != nil || c == nil {
			return err
		}
		if c.ReadableLen() < NetHdrLen {
			return ErrNeedReadable
		}
		frame := c.ReadableLen() - NetHdrLen
		sent, err := n.sendFrame(c, frame)
		if errors.Is(err, unix.EAGAIN) {
			// The backend is full: keep the chain for POLLOUT.
			q.Unpop(1)
			n.txBlocked = true
			return nil
		}
		if sent {
			n.txFrames.Add(1)
			n.txBytes.Add(frame)
		} else {
			n.txDropped.Add(1)
		}
		if err := q.Push(c.Head, 0); err != nil {
			return err
		}
	}
}

// sendFrame writes the frame in c's readable bytes [NetHdrLen,
// NetHdrLen+frame) to the backend. It reports whether the frame went out;
// the error is EAGAIN when it should be retried later.
func (n *Net) sendFrame(c *Chain, frame uint64) (bool, error) {
	if !n.linkUp.Load() || frame < netMinFrame || frame > NetMaxFrame {
		return false, nil
	}
	t := &n.tx
	t.iov = t.iov[:0]
	if n.vnetHdr {
		t.iov = append(t.iov, n.zeroHdr[:])
	}
	err := c.Segments(false, NetHdrLen, frame, func(seg []byte) error {
		t.iov = append(t.iov, seg)
		return nil
	})
	if err != nil || len(t.iov) > netMaxIOV {
		return false, nil
	}
	for {
		_, err := unix.Writev(n.fd, t.iov)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return false, err
		case backendGone(err):
			n.linkDown(err)
		}
		// Any other error refuses this frame only (a tap that is down
		// answers EIO).
		return false, nil
	}
}
