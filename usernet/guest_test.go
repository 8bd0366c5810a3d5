package usernet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/govmm/govmm/hostnet"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	gvethernet "gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// testGuest is a second, independent gVisor netstack that plays the guest
// on a User's FD, configured by hand as a DHCP client would be: GuestIP/24,
// default route via GatewayIP. It moves frames with plain poll, read and
// write on the FD, as a virtio-net device would, and verifies every
// checksum it receives (no checksum offload).
type testGuest struct {
	s      *stack.Stack
	ep     *channel.Endpoint
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// guestNIC is the test guest's NIC.
const guestNIC tcpip.NICID = 1

// newTestGuest attaches a guest netstack with MAC mac to fd. Its Close
// runs at the end of the test.
func newTestGuest(t *testing.T, fd int, mac net.HardwareAddr) *testGuest {
	t.Helper()
	g, err := startGuest(fd, mac)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// startGuest is newTestGuest without a testing.T (the sandbox child).
func startGuest(fd int, mac net.HardwareAddr) (*testGuest, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{netipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	ep := channel.New(1024, hostnet.UserMTU+header.EthernetMinimumSize, tcpip.LinkAddress(mac))
	if err := s.CreateNIC(guestNIC, gvethernet.New(ep)); err != nil {
		return nil, errors.New(err.String())
	}
	addr := tcpip.AddrFrom4(netip.MustParseAddr(GuestIP).As4())
	if err := s.AddProtocolAddress(guestNIC, tcpip.ProtocolAddress{
		Protocol:          netipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr, PrefixLen: 24},
	}, stack.AddressProperties{}); err != nil {
		return nil, errors.New(err.String())
	}
	sn, err := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{10, 0, 2, 0}), tcpip.MaskFromBytes([]byte{255, 255, 255, 0}))
	if err != nil {
		return nil, err
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: sn, NIC: guestNIC},
		{Destination: header.IPv4EmptySubnet, Gateway: gatewayAddr, NIC: guestNIC},
	})
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGuest{s: s, ep: ep, cancel: cancel}
	g.wg.Add(2)
	go func() { defer g.wg.Done(); g.transmit(ctx, fd) }()
	go func() { defer g.wg.Done(); g.receive(ctx, fd) }()
	return g, nil
}

// transmit writes the guest's outgoing frames to fd, waiting for room.
func (g *testGuest) transmit(ctx context.Context, fd int) {
	for {
		pkt := g.ep.ReadContext(ctx)
		if pkt == nil {
			return
		}
		frame := pkt.ToView().AsSlice()
		for {
			_, err := unix.Write(fd, frame)
			if !errors.Is(err, unix.EAGAIN) {
				break
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			_, _ = unix.Poll(pfd, 100)
			if ctx.Err() != nil {
				break
			}
		}
		pkt.DecRef()
	}
}

// receive reads frames from fd into the guest until end of file or ctx.
func (g *testGuest) receive(ctx context.Context, fd int) {
	buf := make([]byte, 65536)
	for ctx.Err() == nil {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			_, _ = unix.Poll(pfd, 100)
			continue
		}
		if err != nil || n == 0 {
			return
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(buf[:n])})
		g.ep.InjectInbound(0, pkt) // the Ethernet layer reads the type
		pkt.DecRef()
	}
}

// Close stops the pumps and the guest's netstack.
func (g *testGuest) Close() {
	g.once.Do(func() {
		g.cancel()
		g.wg.Wait()
		g.s.Destroy()
		g.ep.Close()
	})
}

// fullAddr is ip:port in the netstack's form.
func fullAddr(ip string, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: guestNIC, Addr: tcpip.AddrFrom4(netip.MustParseAddr(ip).As4()), Port: port}
}
