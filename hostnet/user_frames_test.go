package hostnet

import (
	"encoding/binary"
	"errors"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Frame builders and parsers for the user network tests: Ethernet II, ARP
// (RFC 826), IPv4 (RFC 791) and UDP (RFC 768) with the Internet checksum
// (RFC 1071). Bare frames: no virtio_net_hdr.

const (
	uEtherIPv4 = 0x0800
	uEtherARP  = 0x0806
	uEthLen    = 14
	uProtoUDP  = 17
)

var uBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// uChecksum is the Internet checksum of parts taken together; 0 over data
// that holds a correct checksum.
func uChecksum(parts ...[]byte) uint16 {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	var sum uint32
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

// uEthernet is an Ethernet II frame.
func uEthernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	f := make([]byte, uEthLen, uEthLen+len(payload))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], etherType)
	return append(f, payload...)
}

// uARP is an Ethernet/IPv4 ARP packet.
func uARP(op uint16, sha net.HardwareAddr, spa net.IP, tha net.HardwareAddr, tpa net.IP) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:], 1) // ar$hrd: Ethernet
	binary.BigEndian.PutUint16(p[2:], uEtherIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:], op)
	copy(p[8:14], sha)
	copy(p[14:18], spa.To4())
	copy(p[18:24], tha)
	copy(p[24:28], tpa.To4())
	return p
}

// uIPv4 is an IPv4 packet with a 20-byte header and its checksum.
func uIPv4(proto byte, src, dst net.IP, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h[8] = 64 // TTL
	h[9] = proto
	copy(h[12:16], src.To4())
	copy(h[16:20], dst.To4())
	binary.BigEndian.PutUint16(h[10:], uChecksum(h))
	return append(h, payload...)
}

// uIPPacket is an IPv4 packet taken from a frame.
type uIPPacket struct {
	proto    byte
	src, dst net.IP
	payload  []byte
}

// uParseIPv4 takes the IPv4 packet out of frame and checks its version,
// lengths and header checksum.
func uParseIPv4(frame []byte) (uIPPacket, error) {
	if len(frame) < uEthLen+20 || binary.BigEndian.Uint16(frame[12:]) != uEtherIPv4 {
		return uIPPacket{}, errors.New("not an IPv4 frame")
	}
	p := frame[uEthLen:]
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:]))
	switch {
	case p[0]>>4 != 4 || ihl < 20:
		return uIPPacket{}, errors.New("bad IPv4 version or header length")
	case total < ihl || total > len(p):
		return uIPPacket{}, errors.New("bad IPv4 total length")
	case uChecksum(p[:ihl]) != 0:
		return uIPPacket{}, errors.New("bad IPv4 header checksum")
	}
	return uIPPacket{proto: p[9], src: net.IP(p[12:16]), dst: net.IP(p[16:20]), payload: p[ihl:total]}, nil
}

// uUDPChecksumOK checks a UDP checksum over the IPv4 pseudo-header.
func uUDPChecksumOK(ip uIPPacket) bool {
	pseudo := make([]byte, 12)
	copy(pseudo[0:4], ip.src.To4())
	copy(pseudo[4:8], ip.dst.To4())
	pseudo[9] = uProtoUDP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(ip.payload)))
	return uChecksum(pseudo, ip.payload) == 0
}

// uReadFrame reads one message from the non-blocking fd, waiting up to
// timeout.
func uReadFrame(fd int, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, 65536)
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
		_, _ = unix.Poll(pfd, int(left/time.Millisecond)+1)
	}
}
