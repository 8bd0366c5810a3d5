package virtio_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
	"golang.org/x/sys/unix"
)

// virtio-net constants from virtio 1.2 §5.1, written out so the tests do
// not check the code against itself.
const (
	netDeviceID  = 0x1040 + 1 // §4.1.2.1: 0x1040 + device type 1
	fNetCsum     = 1 << 0
	fNetGuestCsm = 1 << 1
	fNetMAC      = 1 << 5
	fNetGuestTSO = 1 << 7
	fNetHostTSO  = 1 << 11
	fNetMrgRxBuf = 1 << 15
	fNetStatus   = 1 << 16
	netHdr       = 12 // struct virtio_net_hdr with num_buffers (§5.1.6)
)

var testMAC = net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}

// pairBackend is one end of a SOCK_SEQPACKET socketpair: a backend whose
// peer the test holds.
type pairBackend struct {
	fd  int
	hdr bool
}

func (p *pairBackend) FD() int        { return p.fd }
func (p *pairBackend) VnetHdr() bool  { return p.hdr }
func (p *pairBackend) Close() error   { return unix.Close(p.fd) }
func (p *pairBackend) String() string { return "pair" }

// netPeer is the test's end of the backend.
type netPeer struct {
	t  *testing.T
	fd int
}

func (p *netPeer) send(frame []byte) {
	p.t.Helper()
	if _, err := unix.Write(p.fd, frame); err != nil {
		p.t.Fatal(err)
	}
}

// recv waits up to the test timeout for one frame.
func (p *netPeer) recv() []byte {
	p.t.Helper()
	pfd := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, int(virtiotest.Timeout/time.Millisecond)); err != nil || n == 0 {
		p.t.Fatalf("no frame from the device (poll %d, %v)", n, err)
	}
	buf := make([]byte, 70000)
	n, err := unix.Read(p.fd, buf)
	if err != nil {
		p.t.Fatal(err)
	}
	return buf[:n]
}

// startNet builds a net device on a socketpair, initialized with features
// and queues of size qsize; hdr makes it a vnet-hdr backend.
func startNet(t *testing.T, features uint64, qsize uint16, hdr bool, cfg virtio.NetConfig) (*virtiotest.Env, *virtio.Net, *netPeer, *virtiotest.SplitQueue, *virtiotest.SplitQueue) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	if cfg.MAC == nil {
		cfg.MAC = testMAC
	}
	n, err := virtio.NewNet(&pairBackend{fd: fds[0], hdr: hdr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, n)
	rx, tx := e.NewQueue(qsize), e.NewQueue(qsize)
	if features != 0 {
		if err := e.Start(features, rx, tx); err != nil {
			t.Fatal(err)
		}
	}
	return e, n, &netPeer{t: t, fd: fds[1]}, rx, tx
}

// ethFrame is a frame of n bytes: broadcast destination, testMAC source,
// ethertype 0x88B5 (IEEE local experimental), then a counting payload.
func ethFrame(n int, seed byte) []byte {
	f := make([]byte, n)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:], testMAC)
	f[12], f[13] = 0x88, 0xB5
	for i := 14; i < n; i++ {
		f[i] = seed + byte(i)
	}
	return f
}

func TestNetIdentityAndConfig(t *testing.T) {
	e, _, _, _, _ := startNet(t, 0, 16, false, virtio.NetConfig{})
	if got := e.D.CfgRead(0x02, 2); got != netDeviceID {
		t.Errorf("device ID %#x, want %#x", got, netDeviceID)
	}
	if got := e.D.CfgRead(0x08, 4) >> 8; got != 0x020000 {
		t.Errorf("class code %#06x, want 0x020000 (network, Ethernet)", got)
	}
	f := e.D.DeviceFeatures()
	for _, want := range []uint64{fNetMAC, fNetMrgRxBuf, fNetStatus, fVersion1} {
		if f&want == 0 {
			t.Errorf("feature %#x not offered (features %#x)", want, f)
		}
	}
	// No offload is offered: nothing proves one works.
	for _, no := range []uint64{fNetCsum, fNetGuestCsm, fNetGuestTSO, fNetHostTSO} {
		if f&no != 0 {
			t.Errorf("offload feature %#x offered", no)
		}
	}
	// struct virtio_net_config (§5.1.4): mac[6], le16 status, le16
	// max_virtqueue_pairs.
	var mac []byte
	for i := uint64(0); i < 6; i++ {
		mac = append(mac, byte(e.D.Read(e.D.DeviceCfg+i, 1)))
	}
	if !bytes.Equal(mac, testMAC) {
		t.Errorf("config mac %x, want %x", mac, []byte(testMAC))
	}
	if s := e.D.Read(e.D.DeviceCfg+6, 2); s != 1 {
		t.Errorf("config status %#x, want VIRTIO_NET_S_LINK_UP (1)", s)
	}
	if s := e.D.Read(e.D.DeviceCfg+8, 2); s != 1 {
		t.Errorf("max_virtqueue_pairs %d, want 1", s)
	}
}

func TestNetRejectsMulticastMAC(t *testing.T) {
	_, err := virtio.NewNet(&pairBackend{fd: -1}, virtio.NetConfig{MAC: net.HardwareAddr{0x01, 0, 0, 0, 0, 1}})
	if err == nil {
		t.Fatal("multicast MAC accepted")
	}
}

// TestNetTransmit: a header and a frame split over three buffers reach the
// backend as one frame, without the header.
func TestNetTransmit(t *testing.T) {
	e, n, peer, _, tx := startNet(t, fVersion1|fEventIdx, 16, false, virtio.NetConfig{})
	frame := ethFrame(300, 1)
	h, a, b := e.Buf(netHdr, 0), e.Buf(100, 0), e.Buf(200, 0)
	e.Mem.Write(a, frame[:100])
	e.Mem.Write(b, frame[100:])
	tx.AddChain(virtiotest.Buffer{Addr: h, Len: netHdr}, virtiotest.Buffer{Addr: a, Len: 100}, virtiotest.Buffer{Addr: b, Len: 200})
	u, err := e.Submit(1, tx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len != 0 {
		t.Errorf("used len %d for a transmit chain, want 0", u.Len)
	}
	if got := peer.recv(); !bytes.Equal(got, frame) {
		t.Fatalf("backend got %d bytes, want the %d-byte frame", len(got), len(frame))
	}
	if s := n.Stats(); s.TxFrames != 1 || s.TxBytes != 300 {
		t.Errorf("stats %+v", s)
	}
}

// TestNetTransmitVnetHdr: a vnet-hdr backend gets a zero header in front of
// the frame, whatever the guest put in its own (no offload was offered).
func TestNetTransmitVnetHdr(t *testing.T) {
	e, _, peer, _, tx := startNet(t, fVersion1, 16, true, virtio.NetConfig{})
	frame := ethFrame(64, 7)
	buf := e.Buf(netHdr+64, 0)
	hdr := []byte{1, 1, 0, 0, 0, 0, 14, 0, 16, 0, 0, 0} // NEEDS_CSUM, GSO_TCPV4
	e.Mem.Write(buf, append(hdr, frame...))
	tx.AddChain(virtiotest.Buffer{Addr: buf, Len: netHdr + 64})
	if _, err := e.Submit(1, tx); err != nil {
		t.Fatal(err)
	}
	got := peer.recv()
	want := append(make([]byte, netHdr), frame...)
	if !bytes.Equal(got, want) {
		t.Fatalf("backend got % x\nwant % x", got, want)
	}
}

// rxBuffers posts count device-writable buffers of size bytes on rx.
func rxBuffers(e *virtiotest.Env, rx *virtiotest.SplitQueue, count int, size uint32) []memory.GuestAddress {
	var addrs []memory.GuestAddress
	for range count {
		a := e.Buf(uint64(size), 0xEE)
		rx.AddChain(virtiotest.Buffer{Addr: a, Len: size, Write: true})
		addrs = append(addrs, a)
	}
	return addrs
}

// TestNetReceive: without VIRTIO_NET_F_MRG_RXBUF a frame fills one buffer
// behind a header whose num_buffers is 1 (§5.1.6.4).
func TestNetReceive(t *testing.T) {
	e, n, peer, rx, _ := startNet(t, fVersion1|fEventIdx, 16, false, virtio.NetConfig{MaxFrame: 1514})
	bufs := rxBuffers(e, rx, 2, netHdr+1514)
	e.D.Kick(0)
	frame := ethFrame(1514, 3)
	peer.send(frame)
	if err := e.WaitQueue(0); err != nil {
		t.Fatal(err)
	}
	u, ok, err := rx.PopUsed()
	if err != nil || !ok {
		t.Fatalf("no used element (%v)", err)
	}
	if u.ID != 0 || u.Len != netHdr+1514 {
		t.Fatalf("used %+v, want id 0 len %d", u, netHdr+1514)
	}
	got := e.Bytes(bufs[0], netHdr+1514)
	wantHdr := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}
	if !bytes.Equal(got[:netHdr], wantHdr) {
		t.Errorf("header % x, want % x", got[:netHdr], wantHdr)
	}
	if !bytes.Equal(got[netHdr:], frame) {
		t.Error("frame bytes differ")
	}
	if s := n.Stats(); s.RxFrames != 1 || s.RxBytes != 1514 {
		t.Errorf("stats %+v", s)
	}
}

// TestNetReceiveMergeable: with VIRTIO_NET_F_MRG_RXBUF a frame spans as many
// buffers as it needs, num_buffers says how many, and the buffers it did
// not need take the next frame (§5.1.6.4).
func TestNetReceiveMergeable(t *testing.T) {
	e, _, peer, rx, tx := startNet(t, 0, 64, false, virtio.NetConfig{MaxFrame: 1514})
	// Both frames wait in the backend before the driver posts buffers,
	// so one round of the worker takes both and raises one interrupt.
	first, second := ethFrame(250, 1), ethFrame(60, 2)
	peer.send(first)
	peer.send(second)
	if err := e.Start(fVersion1|fEventIdx|fNetMrgRxBuf, rx, tx); err != nil {
		t.Fatal(err)
	}
	bufs := rxBuffers(e, rx, 40, 100)
	e.D.Kick(0)
	if err := e.WaitQueue(0); err != nil {
		t.Fatal(err)
	}
	var used []virtiotest.Used
	for {
		u, ok, err := rx.PopUsed()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		used = append(used, u)
	}
	// 12+250 bytes: 100, 100, 62 in buffers 0-2; then 12+60 in buffer 3.
	want := []virtiotest.Used{{ID: 0, Len: 100}, {ID: 1, Len: 100}, {ID: 2, Len: 62}, {ID: 3, Len: 72}}
	if len(used) != len(want) {
		t.Fatalf("used %+v, want %+v", used, want)
	}
	for i := range want {
		if used[i] != want[i] {
			t.Fatalf("used %+v, want %+v", used, want)
		}
	}
	var got []byte
	for i, l := range []uint64{100, 100, 62} {
		got = append(got, e.Bytes(bufs[i], l)...)
	}
	if nb := binary.LittleEndian.Uint16(got[10:]); nb != 3 {
		t.Errorf("num_buffers %d, want 3", nb)
	}
	if !bytes.Equal(got[netHdr:], first) {
		t.Error("first frame differs")
	}
	g2 := e.Bytes(bufs[3], 72)
	if nb := binary.LittleEndian.Uint16(g2[10:]); nb != 1 || !bytes.Equal(g2[netHdr:], second) {
		t.Errorf("second frame: num_buffers %d, frame equal %v", nb, bytes.Equal(g2[netHdr:], second))
	}
	if b := e.Bytes(bufs[4], 1); b[0] != 0xEE {
		t.Error("buffer 4 written")
	}
}

// TestNetReceiveWaitsForBuffers: a frame that arrives with no receive
// buffer waits in the backend, and goes out when the driver adds one and
// kicks.
func TestNetReceiveWaitsForBuffers(t *testing.T) {
	e, _, peer, rx, _ := startNet(t, fVersion1|fEventIdx, 16, false, virtio.NetConfig{MaxFrame: 1514})
	frame := ethFrame(100, 9)
	peer.send(frame)
	time.Sleep(50 * time.Millisecond)
	if u, ok, _ := rx.PopUsed(); ok {
		t.Fatalf("used %+v with no buffer posted", u)
	}
	bufs := rxBuffers(e, rx, 1, netHdr+1514)
	u, err := e.Submit(0, rx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len != netHdr+100 || !bytes.Equal(e.Bytes(bufs[0]+netHdr, 100), frame) {
		t.Fatalf("used %+v", u)
	}
}

// TestNetLinkDownWhenBackendCloses: the peer closing takes the link down
// with a configuration interrupt; transmits are then dropped, not stuck.
func TestNetLinkDownWhenBackendCloses(t *testing.T) {
	e, n, peer, rx, tx := startNet(t, fVersion1|fEventIdx, 16, false, virtio.NetConfig{MaxFrame: 1514})
	rxBuffers(e, rx, 4, netHdr+1514)
	e.D.Kick(0)
	time.Sleep(20 * time.Millisecond)
	unix.Close(peer.fd)
	if err := e.WaitConfig(); err != nil {
		t.Fatal(err)
	}
	if s := e.D.Read(e.D.DeviceCfg+6, 2); s != 0 {
		t.Errorf("config status %#x after the backend closed, want 0", s)
	}
	if n.LinkErr() == nil {
		t.Error("LinkErr is nil")
	}
	buf := e.Buf(netHdr+64, 0)
	e.Mem.Write(buf+netHdr, ethFrame(64, 0))
	tx.AddChain(virtiotest.Buffer{Addr: buf, Len: netHdr + 64})
	if _, err := e.Submit(1, tx); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); s.TxDropped != 1 {
		t.Errorf("stats %+v, want one dropped transmit", s)
	}
	if e.T.Err() != nil {
		t.Errorf("device broken by a closed backend: %v", e.T.Err())
	}
}

// TestNetTransmitBackpressure: when the backend is full the device waits
// for room; every frame arrives, in order.
func TestNetTransmitBackpressure(t *testing.T) {
	e, _, peer, _, tx := startNet(t, fVersion1|fEventIdx, 256, false, virtio.NetConfig{})
	const frames = 200
	for i := range frames {
		b := e.Buf(netHdr+1500, 0)
		e.Mem.Write(b+netHdr, ethFrame(1500, byte(i)))
		tx.AddChain(virtiotest.Buffer{Addr: b, Len: netHdr + 1500})
	}
	e.D.Kick(1)
	// The socket buffer holds far fewer than 200 frames: the device
	// must have met EAGAIN before the test reads.
	time.Sleep(100 * time.Millisecond)
	for i := range frames {
		if got := peer.recv(); !bytes.Equal(got, ethFrame(1500, byte(i))) {
			t.Fatalf("frame %d differs", i)
		}
	}
	// A reset waits for the worker, which pushes each chain right after
	// its write: then every chain must be used.
	if err := e.D.Reset(); err != nil {
		t.Fatal(err)
	}
	if idx, _ := tx.UsedIdx(); idx != frames {
		t.Fatalf("used idx %d, want %d", idx, frames)
	}
}

// TestNetHostileChains: a transmit chain shorter than the header, or a
// receive buffer with no room for one, breaks that queue
// (DEVICE_NEEDS_RESET), never govmm.
func TestNetHostileChains(t *testing.T) {
	t.Run("short transmit", func(t *testing.T) {
		e, _, _, _, tx := startNet(t, fVersion1, 16, false, virtio.NetConfig{})
		tx.AddChain(virtiotest.Buffer{Addr: e.Buf(8, 0), Len: 8})
		e.D.Kick(1)
		if err := e.WaitConfig(); err != nil {
			t.Fatal(err)
		}
		if e.D.Status()&0x40 == 0 {
			t.Error("DEVICE_NEEDS_RESET not set")
		}
	})
	t.Run("receive buffer below the header", func(t *testing.T) {
		e, _, peer, rx, _ := startNet(t, fVersion1, 16, false, virtio.NetConfig{})
		rx.AddChain(virtiotest.Buffer{Addr: e.Buf(4, 0), Len: 4, Write: true})
		peer.send(ethFrame(60, 0))
		e.D.Kick(0)
		if err := e.WaitConfig(); err != nil {
			t.Fatal(err)
		}
		if e.D.Status()&0x40 == 0 {
			t.Error("DEVICE_NEEDS_RESET not set")
		}
	})
	t.Run("oversized and runt transmits are dropped", func(t *testing.T) {
		e, n, peer, _, tx := startNet(t, fVersion1, 16, false, virtio.NetConfig{})
		big := e.Buf(netHdr+70000, 0)
		tx.AddChain(virtiotest.Buffer{Addr: big, Len: netHdr + 70000})
		tx.AddChain(virtiotest.Buffer{Addr: e.Buf(netHdr+10, 0), Len: netHdr + 10})
		ok := e.Buf(netHdr+60, 0)
		e.Mem.Write(ok+netHdr, ethFrame(60, 5))
		tx.AddChain(virtiotest.Buffer{Addr: ok, Len: netHdr + 60})
		e.D.Kick(1)
		if got := peer.recv(); !bytes.Equal(got, ethFrame(60, 5)) {
			t.Fatalf("got a %d-byte frame, want the 60-byte one", len(got))
		}
		time.Sleep(20 * time.Millisecond)
		if s := n.Stats(); s.TxDropped != 2 || s.TxFrames != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

// cpuTime is the process's user+system CPU time.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestNetReceiveChainTooFragmented: a receive chain of more buffers than
// one readv takes (1024) breaks the receive queue, and the worker then
// stops polling the backend: a frame waiting there costs no CPU.
func TestNetReceiveChainTooFragmented(t *testing.T) {
	e, _, peer, rx, _ := startNet(t, fVersion1|fIndirect, 16, false, virtio.NetConfig{MaxFrame: 1514})
	var bufs []virtiotest.Buffer
	for range 1025 {
		bufs = append(bufs, virtiotest.Buffer{Addr: e.Buf(16, 0), Len: 16, Write: true})
	}
	if _, err := rx.AddIndirect(e.Alloc.Alloc(16*1025, 16), bufs...); err != nil {
		t.Fatal(err)
	}
	peer.send(ethFrame(60, 1))
	e.D.Kick(0)
	if err := e.WaitConfig(); err != nil {
		t.Fatal(err)
	}
	if e.D.Status()&0x40 == 0 {
		t.Fatal("DEVICE_NEEDS_RESET not set")
	}
	before := cpuTime(t)
	time.Sleep(300 * time.Millisecond)
	if used := cpuTime(t) - before; used > 150*time.Millisecond {
		t.Fatalf("%v of CPU in 300 ms with a broken receive queue and a frame waiting: the worker spins", used)
	}
}
