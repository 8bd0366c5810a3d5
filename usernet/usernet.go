package usernet

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The guest's view of user-mode networking. It is QEMU's user networking
// (slirp) layout, so that guests and habits made for QEMU work unchanged:
//
//	10.0.2.0/24   the virtual subnet (Subnet)
//	10.0.2.2      the gateway: router, DHCP server, DNS server, and the
//	              host's loopback (GatewayIP, DNSIP, HostLoopbackIP)
//	10.0.2.15     the guest, a static DHCP lease for Config.MAC (GuestIP)
//
// 10.0.2.2 is at once the gateway and an alias of the host's 127.0.0.1:
// a guest TCP connection or UDP flow to 10.0.2.2:PORT goes to the host's
// 127.0.0.1:PORT. That works on the gateway's own address because the
// gateway serves nothing on it but DHCP (UDP 67) and DNS (port 53): every
// other port falls through to the NAT forwarders. The cost is that the
// host's loopback port 53 is out of the guest's reach (10.0.2.2:53 is the
// DNS relay). QEMU puts DNS on 10.0.2.3; here the gateway is the DNS
// server too, so that one address serves everything.
//
// Any other destination outside the subnet is reached from the host with
// an ordinary socket, as the host user (outbound NAT, as in slirp), except
// link-local 169.254.0.0/16 (cloud metadata services), loopback, multicast
// and broadcast addresses, and other addresses in the subnet, which are
// refused.
//
// The link MTU is hostnet.UserMTU.
const (
	// Subnet is the virtual network, in CIDR notation.
	Subnet = "10.0.2.0/24"
	// GatewayIP is the guest's default router and DHCP server.
	GatewayIP = "10.0.2.2"
	// DNSIP is the DNS server DHCP hands out: a relay to the host's.
	DNSIP = "10.0.2.2"
	// HostLoopbackIP is where the guest reaches the host's 127.0.0.1.
	HostLoopbackIP = "10.0.2.2"
	// GuestIP is the address DHCP gives to Config.MAC.
	GuestIP = "10.0.2.15"
	// GatewayMAC is the gateway's Ethernet address (slirp's 52:55 prefix
	// and the gateway's IP).
	GatewayMAC = "52:55:0a:00:02:02"
)

// Config configures the gateway.
type Config struct {
	// MAC is the guest's MAC address: it gets the static DHCP lease
	// GuestIP. Required.
	MAC net.HardwareAddr
	// DNS are the host DNS servers the guest's queries to DNSIP are
	// relayed to, as "IP" (port 53) or "IP:PORT". Empty: the nameserver
	// lines of /etc/resolv.conf, read once by Serve, or 127.0.0.1 if it
	// has none.
	DNS []string
}

// Listener is a host port forward: a listening TCP socket, bound before
// Serve, whose connections the gateway relays to GuestIP's GuestPort.
type Listener struct {
	net.Listener
	GuestPort uint16
}

// Gateway is user-mode networking: a virtual Ethernet segment with a
// gateway (a gVisor netstack attached to a frame socket) that gives the
// guest DHCP, DNS, outbound TCP and UDP and host port forwards without any
// privilege.
type Gateway struct {
	link *userLink // the gateway's NIC, on the frame socket

	stack     *stack.Stack
	rxDone    chan struct{} // closed when link's receive loop has ended
	dhcp      *dhcpServer
	dns       *dnsRelay
	listeners []net.Listener

	ctx    context.Context
	cancel context.CancelFunc

	// mu guards closing and wg.Add, so that no goroutine starts once
	// Close waits for them.
	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup
	conns   map[io.Closer]struct{} // live relayed connections and UDP flows

	// sockets holds a token per host socket the guest has caused (NAT
	// connections and flows, DNS queries), at most maxHostSockets.
	sockets chan struct{}

	closeOnce sync.Once
}

// Serve starts the gateway on frames, one end of an AF_UNIX
// SOCK_SEQPACKET socket pair (hostnet.NewFramePair) whose other end is the
// guest's NIC: each record is one bare Ethernet frame, with no
// virtio_net_hdr. It serves the forwards' listeners, already bound, and
// reads /etc/resolv.conf if cfg.DNS is empty: call it before a sandbox
// that forbids opening files.
//
// Serve takes frames and the listeners: Close closes them, and so does
// Serve when it fails. Errors are one line, without the "user network: "
// that New puts before them.
func Serve(frames *os.File, cfg Config, forwards []Listener) (*Gateway, error) {
	// fail closes what Serve took (frames may be closed already).
	fail := func(err error) (*Gateway, error) {
		frames.Close()
		for _, fw := range forwards {
			fw.Close()
		}
		return nil, err
	}
	if len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0 {
		return fail(fmt.Errorf("guest MAC %q is not a unicast Ethernet address", cfg.MAC))
	}
	upstream, err := dnsUpstream(cfg.DNS)
	if err != nil {
		return fail(err)
	}
	c, err := net.FileConn(frames) // a dup; frames itself is closed next
	frames.Close()
	if err != nil {
		return fail(fmt.Errorf("frame socket: %w", err))
	}
	link, err := newUserLink(c)
	if err != nil {
		c.Close()
		return fail(fmt.Errorf("frame socket: %w", err))
	}
	g := &Gateway{link: link, conns: map[io.Closer]struct{}{}, sockets: make(chan struct{}, maxHostSockets)}
	for _, fw := range forwards {
		g.listeners = append(g.listeners, fw.Listener)
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if err := g.start(cfg, upstream, forwards); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// start builds the gateway and its services, then starts moving frames.
func (g *Gateway) start(cfg Config, upstream []string, forwards []Listener) error {
	if err := g.newGateway(g.link); err != nil {
		return err
	}
	var err error
	if g.dhcp, err = newDHCPServer(g.stack, cfg.MAC); err != nil {
		return fmt.Errorf("dhcp: %w", err)
	}
	if g.dns, err = newDNSRelay(g, upstream); err != nil {
		return err
	}
	for _, fw := range forwards {
		g.spawn(func() { g.accept(fw.Listener, fw.GuestPort) })
	}
	g.spawn(g.dhcp.serve)
	g.spawn(g.dns.serve)
	g.spawn(func() { g.link.txLoop(g.ctx) })
	g.rxDone = make(chan struct{})
	if !g.spawn(func() { defer close(g.rxDone); g.link.rxLoop() }) {
		close(g.rxDone)
	}
	return nil
}

// Done is closed when the frame socket has reached end of file (its other
// end was closed: the guest's side is gone), has failed, or Close has
// closed it. The gateway then has no guest; call Close.
func (g *Gateway) Done() <-chan struct{} { return g.rxDone }

// Close stops the gateway: it closes the forwards' listeners, every
// relayed connection and UDP flow, the DHCP server, the DNS relay, the
// netstack and the frame socket (the guest's side then reads end of file),
// and waits for their goroutines. A second call does nothing.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closing = true
		conns := g.conns
		g.conns = nil
		g.mu.Unlock()
		g.cancel()
		for _, ln := range g.listeners {
			ln.Close()
		}
		// Closing the link's socket ends its receive and transmit loops.
		g.link.close()
		for c := range conns {
			c.Close()
		}
		if g.dns != nil {
			g.dns.close()
		}
		if g.dhcp != nil {
			g.dhcp.close()
		}
		if g.rxDone != nil {
			// The receive loop hands frames to the NIC Destroy removes.
			<-g.rxDone
		}
		if g.stack != nil {
			g.stack.Destroy()
		}
		g.wg.Wait()
	})
	return nil
}

// enter counts the calling goroutine as one that Close waits for, until it
// calls g.wg.Done; it reports false, and counts nothing, once Close has
// begun.
func (g *Gateway) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	return true
}

// spawn runs f on a goroutine that Close waits for; it reports false, and
// runs nothing, once Close has begun.
func (g *Gateway) spawn(f func()) bool {
	if !g.enter() {
		return false
	}
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// track registers c for Close to close; it reports false, and closes c,
// once Close has begun.
func (g *Gateway) track(c io.Closer) bool {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		c.Close()
		return false
	}
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	return true
}

// untrack forgets c (closed by its owner).
func (g *Gateway) untrack(c io.Closer) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}
