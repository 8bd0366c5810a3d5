package usernet

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/frametest"
	"golang.org/x/sys/unix"
)

// The gateway's link (link.go): which frames it takes, and how it
// stops. TestUserRuntFrames (usernet_test.go) covers frames too short for
// an Ethernet header.

// TestUserLinkDropsOtherUnicast: the gateway is a host on a switch port,
// not a hub: an ARP request unicast to another MAC is not answered, the
// same request to the gateway's MAC is.
func TestUserLinkDropsOtherUnicast(t *testing.T) {
	u := newTestUser(t, Config{})
	gw, _ := net.ParseMAC(GatewayMAC)
	req := arpPacket(1, testMAC, ip4(GuestIP), make(net.HardwareAddr, 6), ip4(GatewayIP))
	sendFrame(t, u.FD(), ethFrame(net.HardwareAddr{0x02, 0, 0, 0, 0, 0x77}, testMAC, etherTypeARP, req))
	if f, err := readFrame(u.FD(), 200*time.Millisecond, 0); err == nil {
		t.Fatalf("a frame to another MAC was answered: % x", f)
	}
	sendFrame(t, u.FD(), ethFrame(gw, testMAC, etherTypeARP, req))
	awaitFrame(t, u.FD(), "an ARP reply", func(f []byte) bool {
		return binary.BigEndian.Uint16(f[12:]) == etherTypeARP && len(f) >= ethHdrLen+28 &&
			binary.BigEndian.Uint16(f[ethHdrLen+6:]) == 2
	})
}

// TestUserCloseGuestNotReading: a guest that sends but never reads fills
// the socket; the gateway's writer then waits for room, and Close still
// ends it and every other goroutine.
func TestUserCloseGuestNotReading(t *testing.T) {
	base := len(ownGoroutines())
	u, err := New(Config{MAC: testMAC})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close() // on failure; a second Close does nothing
	// The smallest send buffer the kernel allows on the gateway's end, so
	// that a few replies fill it whatever net.core.wmem_max is.
	var serr error
	if err := u.link.raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 1)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	const requests = 200 // each gets a 42-byte reply; fewer than linkQueueLen
	req := ethFrame(broadcastMAC, testMAC, etherTypeARP, arpPacket(1, testMAC, ip4(GuestIP), make(net.HardwareAddr, 6), ip4(GatewayIP)))
	for i := 0; i < requests; i++ {
		sendFrame(t, u.FD(), req)
	}
	// Wait for the replies to stop coming: the socket is full and the
	// gateway's writer is waiting for room.
	queued, last := 0, -1
	for queued != last {
		time.Sleep(100 * time.Millisecond)
		last = queued
		if queued, err = unix.IoctlGetInt(u.FD(), unix.SIOCINQ); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d bytes of ARP replies wait on FD", queued)
	if queued == 0 || queued >= requests*42 {
		t.Fatalf("%d bytes of replies wait; want some, but fewer than all %d", queued, requests*42)
	}
	done := make(chan struct{})
	go func() { u.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with the guest's socket full")
	}
	waitNoGoroutines(t, base)
}

// answerARP answers f, if it is the gateway's ARP request for GuestIP, as
// the guest at testMAC, and reports whether it was.
func answerARP(t *testing.T, fd int, f []byte) bool {
	t.Helper()
	if binary.BigEndian.Uint16(f[12:]) != etherTypeARP || len(f) < ethHdrLen+28 {
		return false
	}
	a := f[ethHdrLen:]
	if binary.BigEndian.Uint16(a[6:]) != 1 || !net.IP(a[24:28]).Equal(ip4(GuestIP)) {
		return false
	}
	reply := arpPacket(2, testMAC, ip4(GuestIP), net.HardwareAddr(a[8:14]), net.IP(a[14:18]))
	sendFrame(t, fd, ethFrame(net.HardwareAddr(a[8:14]), testMAC, etherTypeARP, reply))
	return true
}

// TestUserPingGateway: the gateway answers an ICMP echo request to
// GatewayIP (RFC 792) with an echo reply carrying the same identifier,
// sequence number and data, with a correct checksum.
func TestUserPingGateway(t *testing.T) {
	u := newTestUser(t, Config{})
	gw, _ := net.ParseMAC(GatewayMAC)
	echo := []byte{8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 'p', 'i', 'n', 'g'}
	binary.BigEndian.PutUint16(echo[2:], inetChecksum(echo))
	sendFrame(t, u.FD(), ethFrame(gw, testMAC, etherTypeIPv4, ipv4Packet(protoICMP, ip4(GuestIP), ip4(GatewayIP), echo)))
	var reply frametest.IPv4
	awaitFrame(t, u.FD(), "an ICMP echo reply", func(f []byte) bool {
		if answerARP(t, u.FD(), f) {
			return false
		}
		ip, err := parseIPv4Frame(f)
		if err != nil || ip.Proto != protoICMP || len(ip.Payload) < 8 || ip.Payload[0] != 0 {
			return false
		}
		reply = ip
		return true
	})
	if !reply.Src.Equal(ip4(GatewayIP)) || !reply.Dst.Equal(ip4(GuestIP)) {
		t.Errorf("echo reply from %v to %v, want %s to %s", reply.Src, reply.Dst, GatewayIP, GuestIP)
	}
	if inetChecksum(reply.Payload) != 0 {
		t.Errorf("echo reply: bad ICMP checksum")
	}
	if got := reply.Payload[4:]; string(got) != string(echo[4:]) {
		t.Errorf("echo reply carries % x, want % x", got, echo[4:])
	}
}
