// Package frametest builds and checks the Ethernet frames that the tap and
// user-network tests send and expect: Ethernet II, ARP (RFC 826), IPv4 (RFC
// 791), ICMP echo (RFC 792) and UDP (RFC 768), with the Internet checksum
// of RFC 1071; and reads and writes them on a non-blocking descriptor. It
// is for tests only (packages hostnet and usernet).
package frametest

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Ethernet and IP numbers the tests use.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EthHdrLen     = 14
	IPHdrLen      = 20 // no options
	ProtoICMP     = 1
	ProtoUDP      = 17
)

// BroadcastMAC is the Ethernet broadcast address.
var BroadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// InetChecksum is the Internet checksum (RFC 1071) of the bytes in parts,
// taken together: the ones' complement of the ones' complement sum of
// 16-bit big-endian words. Over data that holds a correct checksum, it is 0.
func InetChecksum(parts ...[]byte) uint16 {
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

// EthFrame returns an Ethernet II frame.
func EthFrame(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	f := make([]byte, EthHdrLen, EthHdrLen+len(payload))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], etherType)
	return append(f, payload...)
}

// ARPPacket returns an ARP packet for Ethernet and IPv4 (RFC 826).
func ARPPacket(op uint16, sha net.HardwareAddr, spa net.IP, tha net.HardwareAddr, tpa net.IP) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:], 1) // ar$hrd: Ethernet
	binary.BigEndian.PutUint16(p[2:], EtherTypeIPv4)
	p[4], p[5] = 6, 4 // ar$hln, ar$pln
	binary.BigEndian.PutUint16(p[6:], op)
	copy(p[8:14], sha)
	copy(p[14:18], spa.To4())
	copy(p[18:24], tha)
	copy(p[24:28], tpa.To4())
	return p
}

// IPv4Packet returns an IPv4 packet with a 20-byte header and its checksum.
func IPv4Packet(proto byte, src, dst net.IP, payload []byte) []byte {
	h := make([]byte, IPHdrLen, IPHdrLen+len(payload))
	h[0] = 4<<4 | IPHdrLen/4
	binary.BigEndian.PutUint16(h[2:], uint16(IPHdrLen+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234) // identification
	binary.BigEndian.PutUint16(h[6:], 0x4000) // don't fragment
	h[8] = 64                                 // TTL
	h[9] = proto
	copy(h[12:16], src.To4())
	copy(h[16:20], dst.To4())
	binary.BigEndian.PutUint16(h[10:], InetChecksum(h))
	return append(h, payload...)
}

// ICMPEchoMsg returns an ICMP echo message (type 8 request, 0 reply) with
// its checksum.
func ICMPEchoMsg(typ byte, id, seq uint16, data []byte) []byte {
	m := make([]byte, 8, 8+len(data))
	m[0] = typ
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	m = append(m, data...)
	binary.BigEndian.PutUint16(m[2:], InetChecksum(m))
	return m
}

// IPv4 is the parts of an IPv4 packet in an Ethernet frame that the tests
// check.
type IPv4 struct {
	Proto    byte
	Src, Dst net.IP
	Hdr      []byte // the IPv4 header
	Payload  []byte
}

// ParseIPv4Frame splits an Ethernet frame that carries IPv4 and checks its
// header: version, length and checksum.
func ParseIPv4Frame(frame []byte) (IPv4, error) {
	if len(frame) < EthHdrLen+IPHdrLen || binary.BigEndian.Uint16(frame[12:]) != EtherTypeIPv4 {
		return IPv4{}, errors.New("not an IPv4 frame")
	}
	p := frame[EthHdrLen:]
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:]))
	switch {
	case p[0]>>4 != 4 || ihl < IPHdrLen:
		return IPv4{}, errors.New("bad IPv4 version or header length")
	case total < ihl || total > len(p):
		return IPv4{}, errors.New("bad IPv4 total length")
	case InetChecksum(p[:ihl]) != 0:
		return IPv4{}, errors.New("bad IPv4 header checksum")
	}
	return IPv4{Proto: p[9], Src: net.IP(p[12:16]), Dst: net.IP(p[16:20]), Hdr: p[:ihl], Payload: p[ihl:total]}, nil
}

// UDPChecksumOK checks a UDP datagram's checksum over the IPv4
// pseudo-header (RFC 768).
func UDPChecksumOK(ip IPv4) bool {
	pseudo := make([]byte, 12)
	copy(pseudo[0:4], ip.Src.To4())
	copy(pseudo[4:8], ip.Dst.To4())
	pseudo[9] = ProtoUDP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(ip.Payload)))
	return InetChecksum(pseudo, ip.Payload) == 0
}

// maxMessage bounds one message: a virtio-net header and a 64 KiB frame.
const maxMessage = 64 + 65536

// ReadFrame waits up to timeout for the non-blocking fd to be readable and
// reads one message (on a tap, a virtio-net header and a frame; on the user
// network's socket, a bare frame). The buffer's bytes are set to fill
// first, so that the caller sees which bytes the kernel wrote.
func ReadFrame(fd int, timeout time.Duration, fill byte) ([]byte, error) {
	buf := make([]byte, maxMessage)
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

// WaitMessage reads messages of an hdrLen-byte header and a frame from fd
// until one whose frame match accepts, for at most 5 seconds, and returns
// that message. A message too short to hold an Ethernet header fails the
// test. It logs the frames it skips.
func WaitMessage(t *testing.T, fd, hdrLen int, what string, match func(frame []byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		msg, err := ReadFrame(fd, time.Until(deadline), 0xAA)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if len(msg) < hdrLen+EthHdrLen {
			t.Fatalf("waiting for %s: read %d bytes, shorter than a %d-byte header and an Ethernet header", what, len(msg), hdrLen)
		}
		if match(msg[hdrLen:]) {
			return msg
		}
		t.Logf("waiting for %s: skipped a frame: % x", what, msg)
	}
}

// SendFrame writes one message to fd.
func SendFrame(t *testing.T, fd int, msg []byte) {
	t.Helper()
	if n, err := unix.Write(fd, msg); err != nil || n != len(msg) {
		t.Fatalf("writing a %d-byte message: wrote %d: %v", len(msg), n, err)
	}
}
