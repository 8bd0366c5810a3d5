package usernet

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// The guest's DNS server, DNSIP port 53, relays each query unchanged to
// the host's DNS servers and the answer back: UDP here, TCP through the
// TCP NAT forwarder (hostTargets sends DNSIP:53 to the same servers). The
// servers are fixed when Serve runs, so nothing reads /etc/resolv.conf
// once the sandbox is in place. (A server that answered through the Go
// resolver instead would reread /etc/resolv.conf and /etc/hosts when they
// change, openat after set-up, and know only the record types it knows.)

const (
	// resolvConf lists the host's DNS servers.
	resolvConf = "/etc/resolv.conf"
	// maxNameservers is how many resolv.conf servers are used, as glibc's
	// MAXNS.
	maxNameservers = 3
	// dnsTimeout is how long one server has to answer one query.
	dnsTimeout = 2 * time.Second
	// maxDNSInFlight bounds the queries relayed at once; more are dropped
	// (the guest's resolver retries).
	maxDNSInFlight = 64
)

// dnsUpstream returns the host DNS servers as "IP:PORT": cfg's, else those
// of resolvConf, else 127.0.0.1:53.
func dnsUpstream(cfg []string) ([]string, error) {
	var out []string
	for _, s := range cfg {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, ap.String())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("DNS server %q: want IP or IP:PORT", s)
		}
		out = append(out, netip.AddrPortFrom(a, 53).String())
	}
	if len(cfg) > 0 {
		return out, nil
	}
	if f, err := os.Open(resolvConf); err == nil {
		out = parseResolvConf(f)
		f.Close()
	}
	if len(out) == 0 {
		out = []string{"127.0.0.1:53"}
	}
	return out, nil
}

// parseResolvConf returns the first maxNameservers "nameserver" addresses
// of a resolv.conf(5), with port 53.
func parseResolvConf(f *os.File) []string {
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < maxNameservers {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(fields[1]); err == nil {
			out = append(out, netip.AddrPortFrom(a, 53).String())
		}
	}
	return out
}

// dnsRelay answers the guest's UDP queries to DNSIP:53.
type dnsRelay struct {
	g        *Gateway
	conn     *gonet.UDPConn
	upstream []string
	slots    chan struct{}
}

// newDNSRelay binds DNSIP:53 in the gateway's netstack.
func newDNSRelay(g *Gateway, upstream []string) (*dnsRelay, error) {
	conn, err := gonet.DialUDP(g.stack, &tcpip.FullAddress{
		NIC:  gatewayNIC,
		Addr: tcpip.AddrFrom4(netip.MustParseAddr(DNSIP).As4()),
		Port: 53,
	}, nil, netipv4.ProtocolNumber)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return &dnsRelay{g: g, conn: conn, upstream: upstream, slots: make(chan struct{}, maxDNSInFlight)}, nil
}

// serve reads queries until close.
func (r *dnsRelay) serve() {
	buf := make([]byte, 65536)
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 12 { // shorter than a DNS header (RFC 1035 4.1.1)
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			continue
		}
		q := append([]byte(nil), buf[:n]...)
		if !r.g.spawn(func() { defer func() { <-r.slots }(); r.answer(q, from) }) {
			return
		}
	}
}

// answer asks each server in turn and sends the first answer whose ID
// matches the query's back to the guest.
func (r *dnsRelay) answer(q []byte, to net.Addr) {
	if !r.g.takeSocket() {
		return
	}
	defer r.g.giveSocket()
	buf := make([]byte, 65536)
	for _, srv := range r.upstream {
		c, err := net.DialTimeout("udp", srv, dnsTimeout)
		if err != nil {
			continue
		}
		if !r.g.track(c) {
			return
		}
		n := exchange(c, q, buf)
		r.g.untrack(c)
		c.Close()
		if n > 0 {
			_, _ = r.conn.WriteTo(buf[:n], to)
			return
		}
	}
}

// exchange sends q on c and returns the length of the first reply in buf
// with q's ID, or 0 when none comes within dnsTimeout.
func exchange(c net.Conn, q, buf []byte) int {
	_ = c.SetDeadline(time.Now().Add(dnsTimeout))
	if _, err := c.Write(q); err != nil {
		return 0
	}
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0
		}
		if n >= 12 && buf[0] == q[0] && buf[1] == q[1] {
			return n
		}
	}
}

// close stops serve; queries in flight end with Close's other closes.
func (r *dnsRelay) close() { r.conn.Close() }
