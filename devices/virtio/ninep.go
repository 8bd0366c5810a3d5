package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hugelgupf/p9/p9"
)

// DeviceID9P is the virtio 9P transport's device ID (virtio 1.2 §5).
const DeviceID9P = 9

// NinePFMountTag is VIRTIO_9P_MOUNT_TAG, feature bit 0: the mount tag is in
// the configuration space (Linux include/uapi/linux/virtio_9p.h).
const NinePFMountTag = 1 << 0

const (
	// NinePMaxTagLen is the longest mount tag. QEMU and kvmtool reserve
	// MAX_TAG_LEN = 32 bytes for it with a NUL, so 31 bytes work with
	// every guest that was tested against them.
	NinePMaxTagLen = 31
	// NinePMaxMsize caps the 9P message size: a larger Tversion msize
	// is lowered to this, and it bounds every buffer of a request.
	NinePMaxMsize = 512 << 10
	// ninePQueueSize is the request queue's maximum size (Linux's
	// trans_virtio uses 128 entries).
	ninePQueueSize = 128
	// ninePMaxInFlight bounds the requests the server holds at once;
	// further chains stay available until one completes.
	ninePMaxInFlight = 32
	// ninePInFlightBytes bounds the message bytes held for requests in
	// flight (each counts its T-message and its largest possible reply).
	ninePInFlightBytes = 16 << 20
)

// NineP is a virtio 9P transport device (virtio 1.2 §5.8 is reserved for
// it; the protocol is the one QEMU and Linux's net/9p/trans_virtio.c
// share): one request queue whose chains hold a T-message in their
// device-readable part and receive the R-message in their device-writable
// part. A 9P2000.L server (github.com/hugelgupf/p9) serves the messages on
// its own goroutines, so replies come back out of order; they are matched
// to their chains by tag and returned from the worker.
type NineP struct {
	// attacher is the file tree; config is struct virtio_9p_config
	// { le16 tag_len; u8 tag[tag_len]; }. Immutable.
	attacher p9.Attacher
	config   []byte
	// kick wakes the worker; set once by the transport.
	kick func(queue int)
	// conn is the server connection while the device is active. Only
	// Activate, Handle, Reset and Close touch it, which never run
	// concurrently.
	conn *ninePConn
	// hdr is the worker's scratch for message headers.
	hdr [ninePHeaderLen]byte
}

// NewNineP returns a 9P device that guests mount by tag (1 to
// NinePMaxTagLen bytes, no NUL), serving attacher. The device owns the
// attacher: Close closes it if it is an io.Closer.
func NewNineP(tag string, attacher p9.Attacher) (*NineP, error) {
	if err := CheckNinePTag(tag); err != nil {
		return nil, err
	}
	if attacher == nil {
		return nil, errors.New("virtio-9p: no file tree")
	}
	cfg := make([]byte, 2+len(tag))
	binary.LittleEndian.PutUint16(cfg, uint16(len(tag)))
	copy(cfg[2:], tag)
	return &NineP{attacher: attacher, config: cfg}, nil
}

// CheckNinePTag reports whether tag can be a mount tag.
func CheckNinePTag(tag string) error {
	if len(tag) == 0 || len(tag) > NinePMaxTagLen {
		return fmt.Errorf("virtio-9p: mount tag %q must be 1 to %d bytes", tag, NinePMaxTagLen)
	}
	for i := 0; i < len(tag); i++ {
		if tag[i] == 0 {
			return fmt.Errorf("virtio-9p: mount tag %q contains NUL", tag)
		}
	}
	return nil
}

// SetKick implements Kicker: a reply that arrives wakes the worker.
func (n *NineP) SetKick(kick func(queue int)) { n.kick = kick }

// Type implements Device.
func (n *NineP) Type() uint16 { return DeviceID9P }

// Features implements Device.
func (n *NineP) Features() uint64 { return NinePFMountTag }

// QueueSizes implements Device: one request queue.
func (n *NineP) QueueSizes() []uint16 { return []uint16{ninePQueueSize} }

// ConfigSize implements Device.
func (n *NineP) ConfigSize() uint64 { return uint64(len(n.config)) }

// ReadConfig implements Device.
func (n *NineP) ReadConfig(off uint64, data []byte) {
	clear(data)
	if off < uint64(len(n.config)) {
		copy(data, n.config[off:])
	}
}

// WriteConfig implements Device: the configuration is read-only.
func (n *NineP) WriteConfig(off uint64, data []byte) {}

// Activate implements Device: a new server connection, with no fids.
func (n *NineP) Activate(features uint64) {
	n.stop()
	kick := func() {
		if n.kick != nil {
			n.kick(0)
		}
	}
	n.conn = newNinePConn(n.attacher, kick)
}

// Reset implements Device: the connection ends (its fids are clunked and
// its files closed) once the requests in flight are done; their chains
// are dropped with the queue.
func (n *NineP) Reset() { n.stop() }

// Close implements Device.
func (n *NineP) Close() error {
	n.stop()
	if c, ok := n.attacher.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (n *NineP) stop() {
	if n.conn != nil {
		n.conn.shutdown()
		n.conn = nil
	}
}

// Handle implements Device: it returns the replies that arrived, then
// passes new requests to the server while the in-flight bounds allow.
func (n *NineP) Handle(i int, q *Queue) error {
	c := n.conn
	if c == nil {
		return nil
	}
	for _, r := range c.takeDone() {
		if err := r.complete(q); err != nil {
			return err
		}
	}
	for c.room() {
		ch, err := q.Pop()
		if err != nil || ch == nil {
			return err
		}
		if err := n.request(c, q, ch); err != nil {
			return err
		}
	}
	return nil
}
