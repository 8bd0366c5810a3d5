package usernet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/hostnet"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// Traffic between a guest netstack on FD (guest_test.go) and the
// host's loopback, through the gateway's NAT and forwards.

// bulkSize is how much each side sends in the TCP tests.
const bulkSize = 1 << 20

// halfCloser is a connection whose sending side can be closed alone.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// exchangeBulk sends bulkSize random bytes each way over the two ends a and b
// of one TCP connection at once; each side half-closes after sending and
// reads until end of file. It fails the test unless each side received
// exactly what the other sent (SHA-256).
func exchangeBulk(t *testing.T, a, b halfCloser) {
	t.Helper()
	type result struct {
		sent, got [32]byte
		n         int64
		err       error
	}
	run := func(c halfCloser, out chan<- result) {
		data := make([]byte, bulkSize)
		rand.Read(data)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.CloseWrite()
			}
			werr <- err
		}()
		h := sha256.New()
		n, err := io.Copy(h, c)
		if e := <-werr; err == nil {
			err = e
		}
		var r result
		r.sent, r.n, r.err = sha256.Sum256(data), n, err
		copy(r.got[:], h.Sum(nil))
		out <- r
	}
	ra, rb := make(chan result, 1), make(chan result, 1)
	go run(a, ra)
	go run(b, rb)
	x, y := <-ra, <-rb
	if x.err != nil || y.err != nil {
		t.Fatalf("exchange: %v / %v", x.err, y.err)
	}
	if x.n != bulkSize || x.got != y.sent {
		t.Errorf("guest side got %d bytes, sha256 %x; the host sent %d, sha256 %x", x.n, x.got, bulkSize, y.sent)
	}
	if y.n != bulkSize || y.got != x.sent {
		t.Errorf("host side got %d bytes, sha256 %x; the guest sent %d, sha256 %x", y.n, y.got, bulkSize, x.sent)
	}
}

// listenLoopback listens on a free TCP port of 127.0.0.1.
func listenLoopback(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// acceptOne accepts one connection within 10 seconds.
func acceptOne(t *testing.T, ln *net.TCPListener) *net.TCPConn {
	t.Helper()
	ln.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// guestDial connects from the guest to ip:port.
func guestDial(g *testGuest, ip string, port uint16) (*gonet.TCPConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return gonet.DialContextTCP(ctx, g.s, fullAddr(ip, port), netipv4.ProtocolNumber)
}

func portOf(addr net.Addr) uint16 {
	_, p, _ := net.SplitHostPort(addr.String())
	n, _ := strconv.Atoi(p)
	return uint16(n)
}

// TestUserTCPToHostLoopback: the guest reaches a service on the host's
// 127.0.0.1 at 10.0.2.2, 1 MiB each way intact, half-closes passed on.
func TestUserTCPToHostLoopback(t *testing.T) {
	u := newTestUser(t, Config{})
	g := newTestGuest(t, u.FD(), testMAC)
	ln := listenLoopback(t)
	gc, err := guestDial(g, "10.0.2.2", portOf(ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	hc := acceptOne(t, ln)
	if ra := hc.RemoteAddr().(*net.TCPAddr); !ra.IP.IsLoopback() {
		t.Errorf("host side sees the connection from %v, want a loopback address", ra)
	}
	exchangeBulk(t, gc, hc)
}

// TestUserTCPRefused: a host loopback port nobody listens on, and the
// link-local cloud metadata address, are refused with a reset (the guest
// sees "connection refused"), not left to time out.
func TestUserTCPRefused(t *testing.T) {
	u := newTestUser(t, Config{})
	g := newTestGuest(t, u.FD(), testMAC)
	ln := listenLoopback(t)
	closed := portOf(ln.Addr())
	ln.Close()
	for _, dst := range []struct {
		ip   string
		port uint16
	}{{"10.0.2.2", closed}, {"169.254.169.254", 80}} {
		start := time.Now()
		c, err := guestDial(g, dst.ip, dst.port)
		if err == nil {
			c.Close()
			t.Errorf("%s:%d: connected", dst.ip, dst.port)
			continue
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s:%d: refused only after %v: %v", dst.ip, dst.port, time.Since(start), err)
		}
		t.Logf("%s:%d: %v", dst.ip, dst.port, err)
	}
}

// TestUserHostForward: a host connection to a Forward's address reaches
// the guest's port, 1 MiB each way intact; a second forward to a guest
// port nobody listens on closes the host connection.
func TestUserHostForward(t *testing.T) {
	free := listenLoopback(t)
	addr := free.Addr().String()
	free.Close()
	free2 := listenLoopback(t)
	addr2 := free2.Addr().String()
	free2.Close()
	u := newTestUser(t, Config{}, hostnet.Forward{HostAddr: addr, GuestPort: 8080}, hostnet.Forward{HostAddr: addr2, GuestPort: 8081})
	g := newTestGuest(t, u.FD(), testMAC)
	gl, err := gonet.ListenTCP(g.s, fullAddr(GuestIP, 8080), netipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()

	hc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := gl.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	var gc net.Conn
	select {
	case gc = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the guest accepted nothing")
	}
	if gc == nil {
		t.Fatal("guest accept failed")
	}
	defer gc.Close()
	if ra := gc.RemoteAddr().(*net.TCPAddr); !ra.IP.Equal(ip4("10.0.2.2")) {
		t.Errorf("guest sees the connection from %v, want the gateway 10.0.2.2", ra)
	}
	exchangeBulk(t, gc.(*gonet.TCPConn), hc.(*net.TCPConn))

	// Nothing listens on guest port 8081: the host connection is reset,
	// which on loopback may come before the dial returns.
	c2, err := net.DialTimeout("tcp", addr2, 5*time.Second)
	if errors.Is(err, syscall.ECONNRESET) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("host connection to a closed guest port: read %d, %v; want it closed", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestUserUDPToHostLoopback: a guest datagram to 10.0.2.2:PORT reaches the
// host's 127.0.0.1:PORT, and the reply comes back to the guest's socket.
func TestUserUDPToHostLoopback(t *testing.T) {
	u := newTestUser(t, Config{})
	g := newTestGuest(t, u.FD(), testMAC)
	hs, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	go func() { // echo, reversed
		buf := make([]byte, 2048)
		for {
			n, from, err := hs.ReadFrom(buf)
			if err != nil {
				return
			}
			r := make([]byte, n)
			for i := range n {
				r[i] = buf[n-1-i]
			}
			hs.WriteTo(r, from)
		}
	}()
	ra := fullAddr("10.0.2.2", portOf(hs.LocalAddr()))
	gc, err := gonet.DialUDP(g.s, nil, &ra, netipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	got := make([]byte, 2048)
	for try := 0; ; try++ { // the first datagram may wait for ARP
		gc.Write([]byte("datagram"))
		gc.SetReadDeadline(time.Now().Add(time.Second))
		n, err := gc.Read(got)
		if err == nil {
			if string(got[:n]) != "margatad" {
				t.Fatalf("reply %q, want %q", got[:n], "margatad")
			}
			return
		}
		if try == 5 {
			t.Fatalf("no reply: %v", err)
		}
	}
}

// dnsQuery is a standard query (RFC 1035 4.1) with ID id for the A record
// of example.com, recursion desired.
func dnsQuery(id uint16) []byte {
	q := make([]byte, 12)
	binary.BigEndian.PutUint16(q[0:], id)
	q[2] = 0x01                          // RD
	binary.BigEndian.PutUint16(q[4:], 1) // QDCOUNT
	q = append(q, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0)
	return append(q, 0, 1, 0, 1) // QTYPE A, QCLASS IN
}

// dnsAnswer is the response to q: its header with QR and RA set, the
// question, and one A record, 192.0.2.1 (TEST-NET-1), by a name pointer.
func dnsAnswer(q []byte) []byte {
	r := append([]byte(nil), q...)
	r[2] |= 0x80                         // QR
	r[3] |= 0x80                         // RA
	binary.BigEndian.PutUint16(r[6:], 1) // ANCOUNT
	r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
	return r
}

// fakeDNS starts a fake DNS server on one loopback port for UDP and TCP,
// which answers every query with dnsAnswer, and returns its address. It
// stops when the test ends.
func fakeDNS(t *testing.T) string {
	t.Helper()
	var us net.PacketConn
	var ts net.Listener
	for try := 0; ; try++ {
		var err error
		if us, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ts, err = net.Listen("tcp", us.LocalAddr().String()); err == nil {
			break
		}
		us.Close()
		if try == 10 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { us.Close(); ts.Close() })
	go answerDNSUDP(us)
	go func() {
		for {
			c, err := ts.Accept()
			if err != nil {
				return
			}
			// RFC 1035 4.2.2: a two-byte length before each message.
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err == nil {
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, q); err == nil {
					a := dnsAnswer(q)
					c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(a))), a...))
				}
			}
			c.Close()
		}
	}()
	return us.LocalAddr().String()
}

// answerDNSUDP answers every datagram on pc with dnsAnswer until pc is
// closed.
func answerDNSUDP(pc net.PacketConn) {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(dnsAnswer(buf[:n]), from)
	}
}

// TestUserDNSRelay: queries to 10.0.2.2:53 over UDP and TCP reach the
// configured host DNS server unchanged, and its answers come back.
func TestUserDNSRelay(t *testing.T) {
	u := newTestUser(t, Config{DNS: []string{fakeDNS(t)}})
	g := newTestGuest(t, u.FD(), testMAC)

	ra := fullAddr("10.0.2.2", 53)
	gc, err := gonet.DialUDP(g.s, nil, &ra, netipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	q := dnsQuery(0xbeef)
	got := make([]byte, 512)
	var n int
	for try := 0; ; try++ {
		gc.Write(q)
		gc.SetReadDeadline(time.Now().Add(time.Second))
		if n, err = gc.Read(got); err == nil {
			break
		}
		if try == 5 {
			t.Fatalf("UDP: no answer: %v", err)
		}
	}
	if want := dnsAnswer(q); string(got[:n]) != string(want) {
		t.Errorf("UDP answer % x, want % x", got[:n], want)
	}

	tc, err := guestDial(g, "10.0.2.2", 53)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	q = dnsQuery(0xcafe)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
		t.Fatal(err)
	}
	a, err := io.ReadAll(tc)
	if want := dnsAnswer(q); err != nil || len(a) < 2 || string(a[2:]) != string(want) || int(binary.BigEndian.Uint16(a)) != len(want) {
		t.Errorf("TCP answer % x (%v), want length-prefixed % x", a, err, want)
	}
}

// TestUserHostSocketLimit: past the cap on host sockets a new guest
// connection is refused; once one ends, connections work again.
func TestUserHostSocketLimit(t *testing.T) {
	u := newTestUser(t, Config{})
	u.sockets = make(chan struct{}, 1) // a cap of one, before any traffic
	g := newTestGuest(t, u.FD(), testMAC)
	ln := listenLoopback(t)
	first, err := guestDial(g, "10.0.2.2", portOf(ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	hc := acceptOne(t, ln)
	if c, err := guestDial(g, "10.0.2.2", portOf(ln.Addr())); err == nil {
		c.Close()
		t.Fatal("a second connection got through a cap of one")
	}
	first.Close()
	hc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := guestDial(g, "10.0.2.2", portOf(ln.Addr()))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first connection ended: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
