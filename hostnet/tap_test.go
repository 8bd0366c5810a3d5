package hostnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/govmm/govmm/internal/netnstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var (
	hostIP  = net.IPv4(10, 0, 2, 1).To4()  // the tap's address, in the namespace
	peerIP  = net.IPv4(10, 0, 2, 99).To4() // the "guest" the test plays
	peerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}
)

// openTestTap makes a namespace with tap gtap0 (10.0.2.1/24), opens it with
// OpenTap inside the namespace and returns it with the tap's own MAC.
func openTestTap(t *testing.T) (*netnstest.NS, *Tap, net.HardwareAddr) {
	t.Helper()
	n := netnstest.New(t)
	if err := n.AddTap("gtap0", "10.0.2.1/24"); err != nil {
		t.Fatal(err)
	}
	var tap *Tap
	var mac net.HardwareAddr
	err := n.Do(func() error {
		var err error
		if tap, err = OpenTap("gtap0"); err != nil {
			return err
		}
		iface, err := net.InterfaceByName("gtap0")
		if err != nil {
			return err
		}
		mac = iface.HardwareAddr
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tap.Close() }) // runs before the namespace closes
	return n, tap, mac
}

func TestTapAttributes(t *testing.T) {
	_, tap, _ := openTestTap(t)
	if tap.Name() != "gtap0" || !tap.VnetHdr() || tap.MTU() != 1500 {
		t.Errorf("Name %q, VnetHdr %v, MTU %d; want gtap0, true, 1500", tap.Name(), tap.VnetHdr(), tap.MTU())
	}
	fl, err := unix.FcntlInt(uintptr(tap.FD()), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_NONBLOCK == 0 {
		t.Errorf("tap fd flags %#x: not O_NONBLOCK", fl)
	}
	fdfl, err := unix.FcntlInt(uintptr(tap.FD()), unix.F_GETFD, 0)
	if err != nil || fdfl&unix.FD_CLOEXEC == 0 {
		t.Errorf("tap fd: FD_CLOEXEC not set (%#x, %v)", fdfl, err)
	}
	if sz, err := unix.IoctlGetInt(tap.FD(), unix.TUNGETVNETHDRSZ); err != nil || sz != VnetHdrLen {
		t.Errorf("TUNGETVNETHDRSZ = %d, %v; want %d", sz, err, VnetHdrLen)
	}
	ifr, _ := unix.NewIfreq("")
	if err := unix.IoctlIfreq(tap.FD(), unix.TUNGETIFF, ifr); err != nil {
		t.Fatal(err)
	}
	want := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR | unix.IFF_PERSIST)
	if got := ifr.Uint16(); got&want != want || got&unix.IFF_MULTI_QUEUE != 0 || ifr.Name() != "gtap0" {
		t.Errorf("TUNGETIFF: %q flags %#x, want gtap0 with %#x and not multi-queue", ifr.Name(), got, want)
	}
}

// TestTapDataPath proves both directions of the tap, byte for byte: the
// kernel's ARP request and a UDP datagram come out of the fd, an ARP reply
// and an ICMP echo request written to it are taken in (the kernel uses the
// reply's MAC and answers the echo).
func TestTapDataPath(t *testing.T) {
	n, tap, tapMAC := openTestTap(t)
	fd := tap.FD()

	// A datagram to 10.0.2.99, which has no neighbour entry yet: the kernel
	// holds it and asks who has 10.0.2.99.
	payload := []byte("govmm tap test")
	var conn net.Conn
	err := n.Do(func() error {
		var err error
		if conn, err = net.Dial("udp4", "10.0.2.99:9"); err != nil {
			return err
		}
		_, err = conn.Write(payload)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	hdr, frame := waitFrame(t, fd, "the ARP request", func(f []byte) bool {
		return binary.BigEndian.Uint16(f[12:]) == etherTypeARP
	})
	checkVnetHdr(t, "ARP request", hdr)
	want := ethFrame(broadcastMAC, tapMAC, etherTypeARP,
		arpPacket(1, tapMAC, hostIP, make(net.HardwareAddr, 6), peerIP))
	if !bytes.Equal(frame, want) {
		t.Fatalf("ARP request:\n got % x\nwant % x", frame, want)
	}

	// The answer: 10.0.2.99 is at peerMAC. The kernel sends the datagram.
	writeFrame(t, fd, ethFrame(tapMAC, peerMAC, etherTypeARP, arpPacket(2, peerMAC, peerIP, tapMAC, hostIP)))
	hdr, frame = waitFrame(t, fd, "the UDP datagram", func(f []byte) bool {
		ip, err := parseIPv4Frame(f)
		return err == nil && ip.Proto == protoUDP
	})
	checkVnetHdr(t, "UDP datagram", hdr)
	if !bytes.Equal(frame[0:6], peerMAC) || !bytes.Equal(frame[6:12], tapMAC) {
		t.Errorf("UDP datagram from %s to %s, want from %s to %s (the MAC of the ARP reply)",
			net.HardwareAddr(frame[6:12]), net.HardwareAddr(frame[0:6]), tapMAC, peerMAC)
	}
	ip, _ := parseIPv4Frame(frame)
	udp := ip.Payload
	if !ip.Src.Equal(hostIP) || !ip.Dst.Equal(peerIP) || len(udp) < 8 ||
		binary.BigEndian.Uint16(udp[2:]) != 9 || !bytes.Equal(udp[8:], payload) {
		t.Errorf("UDP datagram %s -> %s: % x; want port 9 and %q", ip.Src, ip.Dst, udp, payload)
	}
	// No offloads: the kernel computed the whole checksum.
	if !udpChecksumOK(ip) {
		t.Errorf("UDP checksum %#04x does not verify: a partial checksum came through", binary.BigEndian.Uint16(udp[6:]))
	}

	// An echo request from 10.0.2.99; the kernel answers it.
	data := bytes.Repeat([]byte("0123456789abcdef"), 4)
	writeFrame(t, fd, ethFrame(tapMAC, peerMAC, etherTypeIPv4,
		ipv4Packet(protoICMP, peerIP, hostIP, icmpEchoMsg(8, 0x4242, 7, data))))
	hdr, frame = waitFrame(t, fd, "the ICMP echo reply", func(f []byte) bool {
		ip, err := parseIPv4Frame(f)
		return err == nil && ip.Proto == protoICMP
	})
	checkVnetHdr(t, "ICMP echo reply", hdr)
	ip, _ = parseIPv4Frame(frame)
	if !bytes.Equal(frame[0:6], peerMAC) || !ip.Src.Equal(hostIP) || !ip.Dst.Equal(peerIP) {
		t.Errorf("echo reply %s -> %s to %s, want %s -> %s to %s",
			ip.Src, ip.Dst, net.HardwareAddr(frame[0:6]), hostIP, peerIP, peerMAC)
	}
	if wantICMP := icmpEchoMsg(0, 0x4242, 7, data); !bytes.Equal(ip.Payload, wantICMP) {
		t.Errorf("echo reply ICMP message:\n got % x\nwant % x", ip.Payload, wantICMP)
	}
}

// checkVnetHdr checks the virtio_net_hdr_v1 in front of a frame the kernel
// sent: with no offloads, flags 0 (no checksum to complete, and
// VIRTIO_NET_HDR_F_DATA_VALID only for forwarded packets) and gso_type
// VIRTIO_NET_HDR_GSO_NONE, so every field is 0. num_buffers (bytes 10-11)
// is left as it was by older kernels and zeroed by newer ones.
func checkVnetHdr(t *testing.T, what string, hdr []byte) {
	t.Helper()
	if !bytes.Equal(hdr[:10], make([]byte, 10)) {
		t.Errorf("%s: virtio-net header % x: want flags 0, gso_type GSO_NONE and no offsets", what, hdr)
	}
	t.Logf("%s: num_buffers bytes after the read: % x (buffer filled with aa first)", what, hdr[10:12])
}

func TestOpenTapErrors(t *testing.T) {
	n, tap, _ := openTestTap(t)
	err := n.Do(func() error {
		tun := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: "gtun0"}, Mode: netlink.TUNTAP_MODE_TUN}
		return netlink.LinkAdd(tun)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		errno error
		want  string
	}{
		{"nosuch0", unix.ENODEV, `tap "nosuch0": no such device (create it first: ip tuntap add dev nosuch0 mode tap)`},
		{"gtap0", unix.EBUSY, `tap "gtap0": device or resource busy (another process has it open)`},
		{"lo", unix.EINVAL, `tap "lo": invalid argument (not a tap interface, or a multi-queue one)`},
		{"gtun0", unix.EINVAL, `tap "gtun0": invalid argument (not a tap interface`},
		{"", nil, `tap "": empty interface name`},
		{"0123456789abcdef", nil, `tap "0123456789abcdef": interface name longer than 15 bytes`},
		{"a/b", nil, `tap "a/b": interface name contains`},
	} {
		var got *Tap
		err := n.Do(func() error {
			var err error
			got, err = OpenTap(tc.name)
			return err
		})
		if err == nil {
			got.Close()
			t.Errorf("OpenTap(%q) succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("OpenTap(%q): %q, want one line containing %q", tc.name, err, tc.want)
		}
		if tc.errno != nil && !errors.Is(err, tc.errno) {
			t.Errorf("OpenTap(%q): %v is not %v", tc.name, err, tc.errno)
		}
	}
	// The failed OpenTap created nothing.
	if err := n.Do(func() error { _, err := net.InterfaceByName("nosuch0"); return err }); err == nil {
		t.Errorf("OpenTap of a missing name created it")
	}
	// Outside the namespace, gtap0 does not exist: OpenTap looks in the
	// calling thread's namespace.
	if _, err := OpenTap("gtap0"); err == nil || !errors.Is(err, unix.ENODEV) {
		t.Errorf("OpenTap(gtap0) outside the namespace: %v, want no such device", err)
	}

	if err := tap.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tap.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if tap.FD() != -1 {
		t.Errorf("FD after Close = %d, want -1", tap.FD())
	}
	// Close let go of the tap, which stays: it opens again.
	err = n.Do(func() error {
		again, err := OpenTap("gtap0")
		if err == nil {
			err = again.Close()
		}
		return err
	})
	if err != nil {
		t.Errorf("reopening after Close: %v", err)
	}
}

// TestAttachRefusesNewTap covers the race OpenTap guards against: the tap
// goes away between the lookup and TUNSETIFF, which then creates a new,
// non-persistent one. attachTap must refuse it, and closing the fd removes it.
func TestAttachRefusesNewTap(t *testing.T) {
	n := netnstest.New(t)
	err := n.Do(func() error {
		fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = attachTap(fd, "ghost0")
		_, seen := net.InterfaceByName("ghost0")
		unix.Close(fd)
		if err == nil || !errors.Is(err, unix.ENODEV) || !strings.Contains(err.Error(), `tap "ghost0"`) {
			return errors.New("attach to a tap it created: " + errString(err) + ", want no such device")
		}
		if seen != nil {
			return errors.New("TUNSETIFF did not create ghost0; the test does not test the race")
		}
		if _, err := net.InterfaceByName("ghost0"); err == nil {
			return errors.New("ghost0 is still there after its only fd closed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
