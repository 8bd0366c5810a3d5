package usernet

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Builders and checkers for the frames the tests send and expect: Ethernet
// II, ARP (RFC 826), IPv4 (RFC 791) and UDP (RFC 768), with the Internet
// checksum of RFC 1071; and reading and writing them, bare, on the user
// network's socket (sendFrame, awaitFrame). package hostnet's frame_test.go
// has the same builders, and the tap's framing.

const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	ethHdrLen     = 14
	ipHdrLen      = 20 // no options
	protoICMP     = 1
	protoUDP      = 17
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// inetChecksum is the Internet checksum (RFC 1071) of the bytes in parts, taken
// together: the ones' complement of the ones' complement sum of 16-bit
// big-endian words. Over data that holds a correct checksum, it is 0.
func inetChecksum(parts ...[]byte) uint16 {
	var sum uint32
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ethFrame returns an Ethernet II frame.
func ethFrame(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	f := make([]byte, ethHdrLen, ethHdrLen+len(payload))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], etherType)
	return append(f, payload...)
}

// arpPacket returns an ARP packet for Ethernet and IPv4 (RFC 826).
func arpPacket(op uint16, sha net.HardwareAddr, spa net.IP, tha net.HardwareAddr, tpa net.IP) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:], 1) // ar$hrd: Ethernet
	binary.BigEndian.PutUint16(p[2:], etherTypeIPv4)
	p[4], p[5] = 6, 4 // ar$hln, ar$pln
	binary.BigEndian.PutUint16(p[6:], op)
	copy(p[8:14], sha)
	copy(p[14:18], spa.To4())
	copy(p[18:24], tha)
	copy(p[24:28], tpa.To4())
	return p
}

// ipv4Packet returns an IPv4 packet with a 20-byte header and its checksum.
func ipv4Packet(proto byte, src, dst net.IP, payload []byte) []byte {
	h := make([]byte, ipHdrLen, ipHdrLen+len(payload))
	h[0] = 4<<4 | ipHdrLen/4
	binary.BigEndian.PutUint16(h[2:], uint16(ipHdrLen+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234) // identification
	binary.BigEndian.PutUint16(h[6:], 0x4000) // don't fragment
	h[8] = 64                                 // TTL
	h[9] = proto
	copy(h[12:16], src.To4())
	copy(h[16:20], dst.To4())
	binary.BigEndian.PutUint16(h[10:], inetChecksum(h))
	return append(h, payload...)
}

// parsedIPv4 is the parts of an IPv4 packet in an Ethernet frame that the
// tests check.
type parsedIPv4 struct {
	proto    byte
	src, dst net.IP
	hdr      []byte // the IPv4 header
	payload  []byte
}

// parseIPv4Frame splits an Ethernet frame that carries IPv4 and checks its
// header: version, length and checksum.
func parseIPv4Frame(frame []byte) (parsedIPv4, error) {
	if len(frame) < ethHdrLen+ipHdrLen || binary.BigEndian.Uint16(frame[12:]) != etherTypeIPv4 {
		return parsedIPv4{}, errors.New("not an IPv4 frame")
	}
	p := frame[ethHdrLen:]
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:]))
	switch {
	case p[0]>>4 != 4 || ihl < ipHdrLen:
		return parsedIPv4{}, errors.New("bad IPv4 version or header length")
	case total < ihl || total > len(p):
		return parsedIPv4{}, errors.New("bad IPv4 total length")
	case inetChecksum(p[:ihl]) != 0:
		return parsedIPv4{}, errors.New("bad IPv4 header checksum")
	}
	return parsedIPv4{proto: p[9], src: net.IP(p[12:16]), dst: net.IP(p[16:20]), hdr: p[:ihl], payload: p[ihl:total]}, nil
}

// udpChecksumOK checks a UDP datagram's checksum over the IPv4 pseudo-header
// (RFC 768).
func udpChecksumOK(ip parsedIPv4) bool {
	pseudo := make([]byte, 12)
	copy(pseudo[0:4], ip.src.To4())
	copy(pseudo[4:8], ip.dst.To4())
	pseudo[9] = protoUDP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(ip.payload)))
	return inetChecksum(pseudo, ip.payload) == 0
}

// readFrame waits up to timeout for the non-blocking fd to be readable and
// reads one message, a bare frame. buf's bytes are set to fill first, so
// that the caller sees which bytes the kernel wrote.
func readFrame(fd int, timeout time.Duration, fill byte) ([]byte, error) {
	buf := make([]byte, 65536)
	for i := range buf {
		buf[i] = fill
	}
	deadline := time.Now().Add(timeout)
	for {
		n, err := unix.Read(fd, buf)
		if err == nil {
			return buf[:n], nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return nil, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, errors.New("no frame before the deadline")
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			return nil, err
		}
	}
}

// awaitFrame reads bare frames from the user network's fd until match
// accepts one, for at most 5 seconds, and returns it. It logs the frames it
// skips; one too short for an Ethernet header fails the test.
func awaitFrame(t *testing.T, fd int, what string, match func(frame []byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := readFrame(fd, time.Until(deadline), 0xAA)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if len(f) < ethHdrLen {
			t.Fatalf("waiting for %s: read %d bytes, shorter than an Ethernet header", what, len(f))
		}
		if match(f) {
			return f
		}
		t.Logf("waiting for %s: skipped a frame: % x", what, f)
	}
}

// sendFrame writes one bare Ethernet frame to the user network's fd.
func sendFrame(t *testing.T, fd int, msg []byte) {
	t.Helper()
	if n, err := unix.Write(fd, msg); err != nil || n != len(msg) {
		t.Fatalf("writing a %d-byte message: wrote %d: %v", len(msg), n, err)
	}
}
