package usernet

import (
	"context"
	"io"
	"net"
	"syscall"

	"github.com/govmm/govmm/hostnet"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The gateway's link: its netstack NIC sits on our end of the frame socket
// pair, one Ethernet frame per SOCK_SEQPACKET record, with no switch in
// between. Two goroutines move the frames: rxLoop reads the socket into
// the NIC, txLoop writes what the NIC sends to the socket. Both go through
// Go's network poller (read, write, epoll), so closing the socket stops
// them.

// linkQueueLen is how many outgoing frames wait for the socket; past it
// the netstack drops them, as a full NIC queue would.
const linkQueueLen = 1024

// userLink is the gateway's end of the frame socket pair.
type userLink struct {
	conn net.Conn // a *net.UnixConn on the SOCK_SEQPACKET socket
	raw  syscall.RawConn
	ch   *channel.Endpoint
	ep   *ethernet.Endpoint // ch with the Ethernet header: the NIC's endpoint
}

// newUserLink wraps c, a *net.UnixConn, with a link endpoint for the
// gateway's MAC address GatewayMAC.
func newUserLink(c net.Conn) (*userLink, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, unix.ENOTSOCK
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	mac, err := net.ParseMAC(GatewayMAC)
	if err != nil {
		return nil, err
	}
	ch := channel.New(linkQueueLen, hostnet.UserMTU+header.EthernetMinimumSize, tcpip.LinkAddress(mac))
	return &userLink{conn: c, raw: raw, ch: ch, ep: ethernet.New(ch)}, nil
}

// rxLoop hands each frame read from the socket to the NIC, until the
// socket is closed or the other end hangs up. It drops, without ending,
// frames too short for an Ethernet header (empty ones included: only a
// hang-up is end of file here) and unicast frames to any address but the
// gateway's, as a switch port would.
func (l *userLink) rxLoop() {
	buf := make([]byte, 65536)
	gw := l.ch.LinkAddress()
	for {
		n, err := l.read(buf)
		if err != nil {
			return
		}
		if n < header.EthernetMinimumSize {
			continue
		}
		dst := header.Ethernet(buf[:n]).DestinationAddress()
		if dst != gw && dst[0]&1 == 0 { // bit 0 of the first byte: group address
			continue
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
		l.ch.InjectInbound(0, pkt) // the Ethernet layer reads the type
		pkt.DecRef()
	}
}

// read reads one frame, waiting in the network poller for one to come.
// An empty frame reads as 0 bytes and no error; a hang-up as io.EOF.
func (l *userLink) read(b []byte) (int, error) {
	for {
		var n int
		var err error
		rerr := l.raw.Read(func(fd uintptr) bool {
			n, err = unix.Read(int(fd), b)
			if err == nil && n == 0 && hungUp(int(fd)) {
				err = io.EOF
			}
			return err != unix.EAGAIN
		})
		switch {
		case rerr != nil:
			return 0, rerr
		case err == unix.EINTR:
			continue
		}
		return n, err
	}
}

// hungUp reports whether the other end of the socket fd has shut down or
// closed.
func hungUp(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, _ := unix.Poll(pfd, 0)
	return n > 0 && pfd[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0
}

// txLoop writes the NIC's outgoing frames to the socket, waiting for room,
// until ctx ends or the socket fails (Close).
func (l *userLink) txLoop(ctx context.Context) {
	for {
		pkt := l.ch.ReadContext(ctx)
		if pkt == nil {
			return
		}
		v := pkt.ToView()
		pkt.DecRef()
		_, err := l.conn.Write(v.AsSlice())
		v.Release()
		if err != nil {
			return
		}
	}
}

// close closes the socket, which ends rxLoop and txLoop, and discards the
// frames still queued.
func (l *userLink) close() {
	l.conn.Close()
	l.ch.Close()
}
