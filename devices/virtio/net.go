package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// virtio-net feature bits (virtio 1.2 §5.1.3). Only these are offered: no
// checksum or segmentation offload, so every frame is a plain Ethernet
// frame with a complete checksum, and the header is all zeros but for
// num_buffers.
const (
	NetFMAC      = 1 << 5  // VIRTIO_NET_F_MAC: config.mac is valid
	NetFMrgRxBuf = 1 << 15 // VIRTIO_NET_F_MRG_RXBUF: a frame may span buffers
	NetFStatus   = 1 << 16 // VIRTIO_NET_F_STATUS: config.status is valid
)

const (
	// NetHdrLen is struct virtio_net_hdr with num_buffers: always 12
	// bytes once VIRTIO_F_VERSION_1 is negotiated (§5.1.6).
	NetHdrLen = 12
	// netHdrNumBuffers is num_buffers' offset in the header.
	netHdrNumBuffers = 10
	// NetStatusLinkUp is VIRTIO_NET_S_LINK_UP in config.status (§5.1.4).
	NetStatusLinkUp = 1

	// Queue indices without VIRTIO_NET_F_MQ or a control queue (§5.1.2).
	netRX = 0
	netTX = 1

	netQueueSize = 256
	// netConfigLen covers mac[6], status, max_virtqueue_pairs and mtu
	// (§5.1.4); fields past the offered features read as zero.
	netConfigLen = 12
	// netMinFrame is an Ethernet header: a shorter transmit is dropped.
	netMinFrame = 14
	// NetMaxFrame is the largest frame either direction carries: the
	// 64 KiB an IPv4 datagram may be, plus the Ethernet and VLAN headers.
	NetMaxFrame = 65535 + 14 + 4
)

// NetBackend is the host side of a network device: a tap or a socket. The
// device reads and writes FD directly into and out of guest buffers.
type NetBackend interface {
	// FD is a non-blocking descriptor: each read returns one frame and
	// each write sends one.
	FD() int
	// VnetHdr reports whether each frame on FD starts with the 12-byte
	// virtio-net header (a tap with IFF_VNET_HDR and TUNSETVNETHDRSZ 12).
	// Otherwise frames are bare Ethernet.
	VnetHdr() bool
	// Close releases the backend. Safe to call twice.
	Close() error
}

// NetConfig configures a Net device.
type NetConfig struct {
	// MAC is the guest's address (six bytes, unicast).
	MAC net.HardwareAddr
	// MaxFrame bounds a received frame, Ethernet header included (the
	// backend's MTU plus 18); 0 means NetMaxFrame. Receive buffers are
	// gathered until they can hold it.
	MaxFrame int
}

// NetStats are a Net device's counters.
type NetStats struct {
	RxFrames, RxBytes, TxFrames, TxBytes uint64
	// RxDropped counts frames the backend had that the guest never got
	// (too large, or offloaded); TxDropped frames the guest sent that the
	// backend refused (too short, too long, backend error).
	RxDropped, TxDropped uint64
}

// Net is a virtio network device (virtio 1.2 §5.1) with one receive and one
// transmit queue, served from the transport's worker: the worker polls the
// backend's descriptor beside the queues' eventfds (HostWaiter), and frames
// move with readv/writev straight between the backend and guest buffers.
type Net struct {
	backend  NetBackend
	fd       int
	vnetHdr  bool
	isSocket bool
	mac      [6]byte
	maxFrame int

	// configChanged sends a configuration change interrupt; set once by
	// the transport before the guest runs.
	configChanged func()
	// linkUp is config.status's LINK_UP bit, read by vCPUs.
	linkUp atomic.Bool
	// closeOnce closes the backend once, whether the link failed or the
	// device was closed.
	closeOnce sync.Once

	// Worker-only state (Activate, Handle, HostWaits, Reset).

	// features are the negotiated ones.
	features uint64
	// rxStarved: the backend may have a frame but the guest has too few
	// receive buffers; stop polling the backend until the guest adds some
	// (a receive-queue kick).
	rxStarved bool
	// txBlocked: the backend refused a write with EAGAIN; wait for POLLOUT
	// before transmitting again.
	txBlocked bool
	// rx and tx are the scratch I/O vectors, reused for every frame.
	rx, tx netIO
	// zeroHdr is the header sent in front of a guest frame on a vnet-hdr
	// backend: the guest's own header is never passed to the host, since
	// no offload was offered.
	zeroHdr [NetHdrLen]byte

	rxFrames, rxBytes, txFrames, txBytes, rxDropped, txDropped atomic.Uint64
	// linkErr is why the link went down; guarded by errMu.
	errMu   sync.Mutex
	linkErr error
}

// netIO is one direction's reusable vectors: the guest segments of the
// chains being filled (or drained), and each chain's head and capacity.
type netIO struct {
	iov [][]byte
	// body is iov past the header, for a backend without one.
	body  [][]byte
	heads []uint16
	caps  []uint64
}

// NewNet returns a network device on backend. It owns the backend from now
// on and closes it in Close.
func NewNet(backend NetBackend, cfg NetConfig) (*Net, error) {
	if len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0 {
		return nil, fmt.Errorf("virtio-net: MAC %v is not a 6-byte unicast address", cfg.MAC)
	}
	n := &Net{backend: backend, fd: backend.FD(), vnetHdr: backend.VnetHdr(), maxFrame: cfg.MaxFrame}
	if n.maxFrame <= 0 || n.maxFrame > NetMaxFrame {
		n.maxFrame = NetMaxFrame
	}
	copy(n.mac[:], cfg.MAC)
	if typ, err := unix.GetsockoptInt(n.fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil && typ != 0 {
		n.isSocket = true
	}
	n.linkUp.Store(true)
	return n, nil
}

// SetConfigChanged implements ConfigNotifier.
func (n *Net) SetConfigChanged(notify func()) { n.configChanged = notify }

// Type implements Device.
func (n *Net) Type() uint16 { return DeviceIDNet }

// Features implements Device.
func (n *Net) Features() uint64 { return NetFMAC | NetFMrgRxBuf | NetFStatus }

// QueueSizes implements Device: receiveq1 and transmitq1.
func (n *Net) QueueSizes() []uint16 { return []uint16{netQueueSize, netQueueSize} }

// ConfigSize implements Device.
func (n *Net) ConfigSize() uint64 { return netConfigLen }

// ReadConfig implements Device: struct virtio_net_config (§5.1.4).
func (n *Net) ReadConfig(off uint64, data []byte) {
	var c [netConfigLen]byte
	copy(c[0:6], n.mac[:])
	if n.linkUp.Load() {
		binary.LittleEndian.PutUint16(c[6:], NetStatusLinkUp)
	}
	binary.LittleEndian.PutUint16(c[8:], 1) // max_virtqueue_pairs
	copy(data, c[off:])
}

// WriteConfig implements Device: the configuration is read-only without
// VIRTIO_NET_F_CTRL_MAC_ADDR (§5.1.4.2).
func (n *Net) WriteConfig(off uint64, data []byte) {}

// Activate implements Device. The backend is not read until the driver
// kicks the receive queue (Linux does once it has filled it): like the
// transport, the device touches no ring before a notification says it is
// ready.
func (n *Net) Activate(features uint64) {
	n.features = features
	n.rxStarved = true
}

// Reset implements Device. A link that failed stays down.
func (n *Net) Reset() {
	n.features = 0
	n.rxStarved, n.txBlocked = false, false
}

// Close implements Device.
func (n *Net) Close() error {
	var err error
	n.closeOnce.Do(func() { err = n.backend.Close() })
	return err
}

// Stats returns the device's counters; safe from any goroutine.
func (n *Net) Stats() NetStats {
	return NetStats{
		RxFrames: n.rxFrames.Load(), RxBytes: n.rxBytes.Load(),
		TxFrames: n.txFrames.Load(), TxBytes: n.txBytes.Load(),
		RxDropped: n.rxDropped.Load(), TxDropped: n.txDropped.Load(),
	}
}

// LinkErr is why the link went down, or nil while it is up.
func (n *Net) LinkErr() error {
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.linkErr
}

// HostWaits implements HostWaiter: the backend is polled for input while
// the guest has receive buffers, and for output room while a transmit
// waits for it. A link that is down polls nothing.
func (n *Net) HostWaits(dst []HostWait) []HostWait {
	if !n.linkUp.Load() {
		return dst
	}
	if !n.rxStarved {
		dst = append(dst, HostWait{FD: n.fd, Events: unix.POLLIN, Queue: netRX})
	}
	if n.txBlocked {
		dst = append(dst, HostWait{FD: n.fd, Events: unix.POLLOUT, Queue: netTX})
	}
	return dst
}

// Handle implements Device.
func (n *Net) Handle(i int, q *Queue) error {
	switch i {
	case netRX:
		// A kick means new buffers: try the backend again.
		n.rxStarved = false
		err := n.receive(q)
		if err != nil {
			// The transport stops a broken queue until a reset:
			// stop polling the backend for it too, or a readable
			// backend would wake the worker for nothing, forever.
			n.rxStarved = true
		}
		return err
	case netTX:
		err := n.transmit(q)
		if err != nil {
			n.txBlocked = false
		}
		return err
	}
	return nil
}

// linkDown records a failed backend, clears LINK_UP and tells the driver
// (§5.1.4: the driver rereads status on a configuration change). The
// backend is no longer polled; it stays open until Close, so its
// descriptor number cannot be reused under the device.
func (n *Net) linkDown(err error) {
	n.errMu.Lock()
	if n.linkErr == nil {
		n.linkErr = err
	}
	n.errMu.Unlock()
	if n.linkUp.Swap(false) && n.configChanged != nil {
		n.configChanged()
	}
}

// backendGone reports whether an I/O error means the backend is unusable
// (as opposed to one frame being refused).
func backendGone(err error) bool {
	return errors.Is(err, unix.EBADF) || errors.Is(err, unix.EBADFD) || errors.Is(err, unix.EPIPE) ||
		errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.ENOTCONN) || errors.Is(err, unix.ECONNREFUSED) ||
		errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO)
}
