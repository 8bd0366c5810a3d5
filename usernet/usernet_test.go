package usernet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/hostnet"
	"github.com/govmm/govmm/internal/frametest"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// The tests act as the guest on User.FD with frames built by hand and check
// the answers against the RFCs (frame_test.go has the builders), or run a
// guest netstack on it (guest_test.go).

// testMAC is the guest's MAC address in these tests (locally administered).
var testMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x15}

// newTestUser starts user networking for testMAC (unless cfg names a MAC)
// in this process and closes it at the end of the test.
func newTestUser(t *testing.T, cfg Config, forwards ...hostnet.Forward) *User {
	t.Helper()
	if cfg.MAC == nil {
		cfg.MAC = testMAC
	}
	u, err := New(cfg, forwards...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func ip4(s string) net.IP { return net.ParseIP(s).To4() }

// TestUserARP: the gateway answers "who has 10.0.2.2? tell 10.0.2.15"
// (RFC 826) with a reply from 10.0.2.2, sent to the asker.
func TestUserARP(t *testing.T) {
	u := newTestUser(t, Config{})
	req := arpPacket(1, testMAC, ip4("10.0.2.15"), make(net.HardwareAddr, 6), ip4("10.0.2.2"))
	sendFrame(t, u.FD(), ethFrame(broadcastMAC, testMAC, etherTypeARP, req))
	f := awaitFrame(t, u.FD(), "an ARP reply", func(f []byte) bool {
		return binary.BigEndian.Uint16(f[12:]) == etherTypeARP && len(f) >= ethHdrLen+28 &&
			binary.BigEndian.Uint16(f[ethHdrLen+6:]) == 2 // ar$op REPLY
	})
	a := f[ethHdrLen:]
	if hrd, pro := binary.BigEndian.Uint16(a[0:]), binary.BigEndian.Uint16(a[2:]); hrd != 1 || pro != etherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		t.Errorf("reply is not Ethernet/IPv4: hrd %d pro %#x hln %d pln %d", hrd, pro, a[4], a[5])
	}
	sha, spa, tha, tpa := net.HardwareAddr(a[8:14]), net.IP(a[14:18]), net.HardwareAddr(a[18:24]), net.IP(a[24:28])
	if !spa.Equal(ip4("10.0.2.2")) || !tpa.Equal(ip4("10.0.2.15")) {
		t.Errorf("reply says %v is at %v, for %v; want 10.0.2.2 for 10.0.2.15", spa, sha, tpa)
	}
	if !bytes.Equal(tha, testMAC) || !bytes.Equal(f[0:6], testMAC) {
		t.Errorf("reply goes to %v (target %v), want the asker %v", net.HardwareAddr(f[0:6]), tha, testMAC)
	}
	if !bytes.Equal(sha, f[6:12]) || sha[0]&1 != 0 || sha.String() != GatewayMAC {
		t.Errorf("gateway hardware address %v (frame source %v): want unicast %s", sha, net.HardwareAddr(f[6:12]), GatewayMAC)
	}
}

// DHCP (RFC 2131, options RFC 2132) message types and option codes.
const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5

	optSubnetMask  = 1
	optRouter      = 3
	optDNS         = 6
	optRequestedIP = 50
	optLeaseTime   = 51
	optMsgType     = 53
	optServerID    = 54
	optParamList   = 55
	optEnd         = 255
)

// dhcpFrame is a client's DHCP message from mac, broadcast as a client
// without an address sends it: 0.0.0.0:68 to 255.255.255.255:67, UDP
// checksum 0 (none, allowed for IPv4 by RFC 768), BOOTP broadcast flag set.
func dhcpFrame(mac net.HardwareAddr, xid uint32, opts []byte) []byte {
	m := make([]byte, 236, 300)
	m[0], m[1], m[2] = 1, 1, 6 // op BOOTREQUEST, htype Ethernet, hlen
	binary.BigEndian.PutUint32(m[4:], xid)
	binary.BigEndian.PutUint16(m[10:], 0x8000) // flags: broadcast
	copy(m[28:], mac)                          // chaddr
	m = append(m, 99, 130, 83, 99)             // magic cookie
	m = append(m, opts...)
	m = append(m, optEnd)
	for len(m) < 300 { // BOOTP's minimum message size (RFC 951)
		m = append(m, 0)
	}
	udp := make([]byte, 8, 8+len(m))
	binary.BigEndian.PutUint16(udp[0:], 68)
	binary.BigEndian.PutUint16(udp[2:], 67)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(m)))
	udp = append(udp, m...)
	return ethFrame(broadcastMAC, mac, etherTypeIPv4, ipv4Packet(protoUDP, ip4("0.0.0.0"), ip4("255.255.255.255"), udp))
}

// dhcpReply is a server's BOOTREPLY: the IP packet, the fixed fields and
// the options.
type dhcpReply struct {
	ip     frametest.IPv4
	yiaddr net.IP
	chaddr net.HardwareAddr
	opts   map[byte][]byte
}

// awaitDHCP waits for the BOOTREPLY to xid from port 67 to port 68 and
// checks its UDP checksum and options' framing.
func awaitDHCP(t *testing.T, fd int, xid uint32) dhcpReply {
	t.Helper()
	var r dhcpReply
	awaitFrame(t, fd, "a DHCP reply", func(f []byte) bool {
		ip, err := parseIPv4Frame(f)
		if err != nil || ip.Proto != protoUDP || len(ip.Payload) < 8+240 {
			return false
		}
		u := ip.Payload
		if binary.BigEndian.Uint16(u[0:]) != 67 || binary.BigEndian.Uint16(u[2:]) != 68 {
			return false
		}
		m := u[8:]
		if m[0] != 2 || binary.BigEndian.Uint32(m[4:]) != xid {
			return false
		}
		if binary.BigEndian.Uint16(u[6:]) != 0 && !udpChecksumOK(ip) {
			t.Errorf("DHCP reply: bad UDP checksum")
		}
		if !bytes.Equal(m[236:240], []byte{99, 130, 83, 99}) {
			t.Fatalf("DHCP reply: magic cookie % x", m[236:240])
		}
		r = dhcpReply{ip: ip, yiaddr: net.IP(m[16:20]), chaddr: net.HardwareAddr(m[28:34]), opts: map[byte][]byte{}}
		for o := m[240:]; len(o) > 0 && o[0] != optEnd; {
			if o[0] == 0 { // pad
				o = o[1:]
				continue
			}
			if len(o) < 2 || len(o) < 2+int(o[1]) {
				t.Fatalf("DHCP reply: option %d overruns the message", o[0])
			}
			r.opts[o[0]] = o[2 : 2+o[1]]
			o = o[2+o[1]:]
		}
		return true
	})
	return r
}

// checkLease checks the fields RFC 2131 (table 3) requires in an offer or
// ack, and the network the lease describes.
func checkLease(t *testing.T, r dhcpReply, msgType byte, mac net.HardwareAddr) {
	t.Helper()
	if got := r.opts[optMsgType]; len(got) != 1 || got[0] != msgType {
		t.Errorf("message type % x, want %d", got, msgType)
	}
	if !bytes.Equal(r.chaddr, mac) {
		t.Errorf("chaddr %v, want %v", r.chaddr, mac)
	}
	if got := r.opts[optServerID]; !net.IP(got).Equal(ip4("10.0.2.2")) {
		t.Errorf("server identifier %v, want 10.0.2.2", net.IP(got))
	}
	if got := r.opts[optLeaseTime]; len(got) != 4 || binary.BigEndian.Uint32(got) == 0 {
		t.Errorf("lease time % x, want 4 bytes, non-zero", got)
	}
	if got := r.opts[optSubnetMask]; !bytes.Equal(got, []byte{255, 255, 255, 0}) {
		t.Errorf("subnet mask % x, want 255.255.255.0", got)
	}
	if got := r.opts[optRouter]; len(got) < 4 || !net.IP(got[:4]).Equal(ip4("10.0.2.2")) {
		t.Errorf("router % x, want 10.0.2.2 first", got)
	}
	if got := r.opts[optDNS]; len(got) < 4 || !net.IP(got[:4]).Equal(ip4("10.0.2.2")) {
		t.Errorf("DNS servers % x, want 10.0.2.2 first", got)
	}
	// The client has no address and asked for a broadcast reply.
	if !r.ip.Dst.Equal(net.IPv4bcast) {
		t.Errorf("reply sent to %v, want 255.255.255.255 (broadcast flag)", r.ip.Dst)
	}
}

// TestUserDHCP: DISCOVER gets an OFFER of 10.0.2.15 with router and DNS
// 10.0.2.2, and REQUEST for it an ACK (RFC 2131 3.1); another MAC gets
// another address of the subnet.
func TestUserDHCP(t *testing.T) {
	u := newTestUser(t, Config{})
	sendFrame(t, u.FD(), dhcpFrame(testMAC, 0x11223344, []byte{optMsgType, 1, dhcpDiscover, optParamList, 3, optSubnetMask, optRouter, optDNS}))
	offer := awaitDHCP(t, u.FD(), 0x11223344)
	if !offer.yiaddr.Equal(ip4("10.0.2.15")) {
		t.Errorf("offered %v, want 10.0.2.15", offer.yiaddr)
	}
	checkLease(t, offer, dhcpOffer, testMAC)

	req := []byte{optMsgType, 1, dhcpRequest, optRequestedIP, 4}
	req = append(req, offer.yiaddr...)
	req = append(req, optServerID, 4)
	req = append(req, offer.opts[optServerID]...)
	sendFrame(t, u.FD(), dhcpFrame(testMAC, 0x11223345, req))
	ack := awaitDHCP(t, u.FD(), 0x11223345)
	if !ack.yiaddr.Equal(ip4("10.0.2.15")) {
		t.Errorf("acked %v, want 10.0.2.15", ack.yiaddr)
	}
	checkLease(t, ack, dhcpAck, testMAC)

	other := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x99}
	sendFrame(t, u.FD(), dhcpFrame(other, 0x55, []byte{optMsgType, 1, dhcpDiscover}))
	o := awaitDHCP(t, u.FD(), 0x55)
	_, subnet, _ := net.ParseCIDR("10.0.2.0/24")
	if !subnet.Contains(o.yiaddr) || o.yiaddr.Equal(ip4("10.0.2.15")) || o.yiaddr.Equal(ip4("10.0.2.2")) {
		t.Errorf("another MAC was offered %v, want a free address in 10.0.2.0/24", o.yiaddr)
	}
}

// TestUserForwardPortInUse: a taken forward address fails New with one
// line that names it.
func TestUserForwardPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	u, err := New(Config{MAC: testMAC}, hostnet.Forward{HostAddr: addr, GuestPort: 80})
	if err == nil {
		u.Close()
		t.Fatalf("New with %s taken succeeded", addr)
	}
	msg := err.Error()
	if !strings.Contains(msg, addr) || strings.Contains(msg, "\n") || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %q: want one line naming %s, wrapping EADDRINUSE", msg, addr)
	}
	t.Log(msg)
}

// TestUserBadConfig: a missing or multicast MAC and a malformed DNS server
// are refused.
func TestUserBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{MAC: net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}},
		{MAC: testMAC, DNS: []string{"not-an-ip"}},
	} {
		if u, err := New(cfg); err == nil {
			u.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// ownGoroutines lists the goroutines running code of the user network: its
// own, the netstacks' and the DHCP library's.
func ownGoroutines() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "gvisor.dev/gvisor/") || strings.Contains(g, "usernet.(*userLink)") ||
			strings.Contains(g, "usernet.(*dhcpServer)") ||
			strings.Contains(g, "usernet.(*Gateway)") || strings.Contains(g, "usernet.(*dnsRelay)") ||
			strings.Contains(g, "usernet.pipe") || strings.Contains(g, "insomniacslk") {
			out = append(out, g)
		}
	}
	return out
}

// waitNoGoroutines waits up to 5 seconds for ownGoroutines to be back to
// at most base.
func waitNoGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		gs := ownGoroutines()
		if len(gs) <= base {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left (%d before):\n%s", len(gs), base, strings.Join(gs, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUserCloseTwice: Close with nothing in flight stops everything, gives
// end of file to a reader of the device side and closes FD; a second Close
// is a no-op.
func TestUserCloseTwice(t *testing.T) {
	base := len(ownGoroutines())
	u, err := New(Config{MAC: testMAC})
	if err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(u.FD())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	fd := u.FD()
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n, err := unix.Read(dup, make([]byte, 2048)); n != 0 || err != nil {
		t.Errorf("read after Close: %d, %v; want end of file", n, err)
	}
	if _, err := unix.Read(fd, make([]byte, 2048)); !errors.Is(err, unix.EBADF) {
		t.Errorf("read on FD after Close: %v, want EBADF (closed)", err)
	}
	waitNoGoroutines(t, base)
}

// TestUserCloseWithTraffic: Close with a guest-to-host connection, a
// forwarded connection, a UDP flow and a forward listener live ends the
// host sides of the connections, frees the forward's address and leaves
// no goroutine behind.
func TestUserCloseWithTraffic(t *testing.T) {
	base := len(ownGoroutines())
	free := listenLoopback(t)
	fwd := free.Addr().String()
	free.Close()
	u, err := New(Config{MAC: testMAC}, hostnet.Forward{HostAddr: fwd, GuestPort: 8080})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	g, err := startGuest(u.FD(), testMAC)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	// Guest to host, held open.
	ln := listenLoopback(t)
	gc, err := guestDial(g, "10.0.2.2", portOf(ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	nat := acceptOne(t, ln)

	// Host to guest, held open.
	gl, err := gonet.ListenTCP(g.s, fullAddr(GuestIP, 8080), netipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	hc, err := net.DialTimeout("tcp", fwd, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	ga, err := gl.Accept() // gonet's Accept has no deadline; the forward connects at once
	if err != nil {
		t.Fatal(err)
	}
	defer ga.Close()
	// Both ends see data before Close.
	if _, err := hc.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	ga.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(ga, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	// A UDP flow (its host socket waits for a reply that never comes).
	us, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	ra := fullAddr("10.0.2.2", portOf(us.LocalAddr()))
	uc, err := gonet.DialUDP(g.s, nil, &ra, netipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.Write([]byte("flow"))
	us.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := us.ReadFrom(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}

	g.Close() // the guest vanishes; the gateway still holds everything
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"guest-to-host": nat, "forwarded": hc} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("%s connection: read %d, %v after Close; want it ended", name, n, err)
		}
	}
	ln2, err := net.Listen("tcp", fwd)
	if err != nil {
		t.Errorf("forward address after Close: %v", err)
	} else {
		ln2.Close()
	}
	waitNoGoroutines(t, base)
}

// TestUserRuntFrames: frames too short for an Ethernet header, empty ones
// included, are dropped; the network goes on (an ARP request after them
// is answered).
func TestUserRuntFrames(t *testing.T) {
	u := newTestUser(t, Config{})
	for _, n := range []int{0, 1, 6, 12, 13} {
		if _, err := unix.Write(u.FD(), make([]byte, n)); err != nil {
			t.Fatalf("writing a %d-byte frame: %v", n, err)
		}
	}
	req := arpPacket(1, testMAC, ip4("10.0.2.15"), make(net.HardwareAddr, 6), ip4("10.0.2.2"))
	sendFrame(t, u.FD(), ethFrame(broadcastMAC, testMAC, etherTypeARP, req))
	awaitFrame(t, u.FD(), "an ARP reply", func(f []byte) bool {
		return binary.BigEndian.Uint16(f[12:]) == etherTypeARP && len(f) >= ethHdrLen+28 &&
			binary.BigEndian.Uint16(f[ethHdrLen+6:]) == 2
	})
}

// TestUserHostTargets: where the NAT sends a guest connection: the
// gateway's address to the host's loopback (port 53 to the DNS servers),
// other global addresses to themselves, and never to loopback,
// link-local, multicast, broadcast or the virtual subnet's other hosts.
func TestUserHostTargets(t *testing.T) {
	u := newTestUser(t, Config{DNS: []string{"192.0.2.53"}})
	for _, c := range []struct {
		dst  string
		port uint16
		want string
	}{
		{"10.0.2.2", 8080, "127.0.0.1:8080"},
		{"10.0.2.2", 53, "192.0.2.53:53"},
		{"198.51.100.7", 443, "198.51.100.7:443"},
		{"192.168.1.1", 80, "192.168.1.1:80"},
		{"169.254.169.254", 80, ""},
		{"127.0.0.1", 80, ""},
		{"0.0.0.0", 80, ""},
		{"224.0.0.251", 5353, ""},
		{"255.255.255.255", 9, ""},
		{"10.0.2.255", 9, ""},
		{"10.0.2.3", 80, ""},
		{"10.0.2.15", 80, ""},
	} {
		got := strings.Join(u.hostTargets(netip.MustParseAddr(c.dst), c.port), ",")
		if got != c.want {
			t.Errorf("%s:%d goes to %q, want %q", c.dst, c.port, got, c.want)
		}
	}
}
