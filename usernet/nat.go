package usernet

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Guest to host NAT: the gateway's netstack terminates every TCP
// connection and UDP flow the guest starts, and each is relayed through an
// ordinary host socket (see the address table in usernet.go for where).

const (
	// hostDialTimeout bounds a host connect; the guest's SYN waits for it
	// and gets a reset if it fails.
	hostDialTimeout = 10 * time.Second
	// udpIdle ends a UDP flow after this long without a datagram either
	// way.
	udpIdle = 90 * time.Second
)

// maxHostSockets bounds the host sockets the guest can have open at once
// through the NAT and the DNS relay, so that it cannot exhaust the
// process's file descriptors; past it new connections are reset and new
// flows and queries dropped.
const maxHostSockets = 4096

// takeSocket reserves one of maxHostSockets; giveSocket returns it.
func (g *Gateway) takeSocket() bool {
	select {
	case g.sockets <- struct{}{}:
		return true
	default:
		return false
	}
}

func (g *Gateway) giveSocket() { <-g.sockets }

var (
	subnetPrefix = netip.MustParsePrefix(Subnet)
	gatewayIP    = netip.MustParseAddr(GatewayIP)
)

// hostTargets are the host addresses, in the order to try, for a guest
// connection or flow to dst:port, or nil to refuse it.
func (g *Gateway) hostTargets(dst netip.Addr, port uint16) []string {
	switch {
	case dst == gatewayIP && port == 53:
		return g.dns.upstream
	case dst == gatewayIP:
		return []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))}
	case !dst.Is4() || !dst.IsGlobalUnicast() || subnetPrefix.Contains(dst):
		// Loopback, link-local (cloud metadata), multicast, broadcast,
		// unspecified, and the virtual subnet's other addresses.
		return nil
	}
	return []string{netip.AddrPortFrom(dst, port).String()}
}

// forwardTCP handles a guest SYN to anywhere but a netstack listener: it
// connects on the host first and completes the guest's handshake only if
// that worked, else resets it. The forwarder runs it on a goroutine of
// its own.
func (g *Gateway) forwardTCP(r *tcp.ForwarderRequest) {
	if !g.enter() {
		r.Complete(true)
		return
	}
	defer g.wg.Done()
	id := r.ID()
	targets := g.hostTargets(netip.AddrFrom4(id.LocalAddress.As4()), id.LocalPort)
	if targets == nil || !g.takeSocket() {
		r.Complete(true)
		return
	}
	defer g.giveSocket()
	var host net.Conn
	d := net.Dialer{Timeout: hostDialTimeout}
	for _, t := range targets {
		c, err := d.DialContext(g.ctx, "tcp", t)
		if err == nil {
			host = c
			break
		}
	}
	if host == nil {
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, err := r.CreateEndpoint(&wq)
	r.Complete(false)
	if err != nil {
		host.Close()
		return
	}
	g.relay(gonet.NewTCPConn(&wq, ep), host)
}

// forwardUDP handles a guest datagram of a new flow (no netstack endpoint
// yet): it makes a connected endpoint for the flow and relays it through a
// connected host UDP socket until the flow is idle for udpIdle. It runs in
// the netstack's receive path, so it must not block.
func (g *Gateway) forwardUDP(r *udp.ForwarderRequest) {
	id := r.ID()
	targets := g.hostTargets(netip.AddrFrom4(id.LocalAddress.As4()), id.LocalPort)
	if targets == nil {
		return
	}
	var wq waiter.Queue
	ep, err := r.CreateEndpoint(&wq)
	if err != nil {
		return
	}
	guest := gonet.NewUDPConn(&wq, ep)
	if !g.spawn(func() { g.udpFlow(guest, targets[0]) }) {
		guest.Close()
	}
}

// udpFlow relays datagrams between guest and a new host socket connected
// to target, both ways, until neither has carried one for udpIdle or
// Close.
func (g *Gateway) udpFlow(guest *gonet.UDPConn, target string) {
	if !g.takeSocket() {
		guest.Close()
		return
	}
	defer g.giveSocket()
	host, err := net.Dial("udp", target)
	if err != nil {
		guest.Close()
		return
	}
	if !g.track(guest) {
		host.Close()
		return
	}
	defer g.untrack(guest)
	defer guest.Close()
	if !g.track(host) {
		return
	}
	defer g.untrack(host)
	defer host.Close()
	var last atomic.Int64 // unix nanoseconds of the last datagram
	last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	if !g.spawn(func() { defer close(done); datagrams(guest, host, &last) }) {
		return
	}
	datagrams(host, guest, &last)
	<-done
}

// datagrams copies datagrams from src to dst until an error other than a
// refusal (an ICMP port unreachable for an earlier datagram, which a
// later one may not get), or until both directions have been idle for
// udpIdle; then it closes both, ending the other direction too.
func datagrams(dst, src net.Conn, last *atomic.Int64) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 65536)
	for {
		_ = src.SetReadDeadline(time.Unix(0, last.Load()).Add(udpIdle))
		n, err := src.Read(buf)
		switch {
		case err == nil:
			last.Store(time.Now().UnixNano())
			if _, err := dst.Write(buf[:n]); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
				return
			}
		case errors.Is(err, syscall.ECONNREFUSED):
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < udpIdle:
			// The other direction was busy meanwhile.
		default:
			return
		}
	}
}

// relay copies a to b and b to a until both directions end, passing a
// half-close on, and then closes both. Close ends it early.
func (g *Gateway) relay(a, b net.Conn) {
	if !g.track(a) {
		b.Close()
		return
	}
	defer g.untrack(a)
	defer a.Close()
	if !g.track(b) {
		return
	}
	defer g.untrack(b)
	defer b.Close()
	done := make(chan struct{})
	if !g.spawn(func() { defer close(done); pipe(b, a) }) {
		return
	}
	pipe(a, b)
	<-done
}

// pipe copies src to dst. At src's end of file it half-closes dst; on an
// error (a reset, or Close) it closes both, which ends the other
// direction too.
func pipe(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		src.Close()
		return
	}
	if hc, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
		return
	}
	dst.Close()
}
