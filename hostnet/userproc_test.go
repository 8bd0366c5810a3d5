package hostnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// StartUser with the real helper: the tests build cmd/govmm-usernet once
// (static, as make build does) and point GOVMM_USERNET at it. They play the
// guest on the UserProc's FD with frames built by hand (frame_test.go);
// package usernet's own tests cover the gateway in depth.

// helperMAC is the guest's MAC address in these tests.
var helperMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x15}

var helper struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if helper.dir != "" {
		os.RemoveAll(helper.dir)
	}
	os.Exit(code)
}

// useHelper builds govmm-usernet (once per test binary) and sets
// GOVMM_USERNET to it for the test.
func useHelper(t *testing.T) {
	t.Helper()
	helper.once.Do(func() {
		if helper.dir, helper.err = os.MkdirTemp("", "govmm-usernet-test-"); helper.err != nil {
			return
		}
		helper.path = filepath.Join(helper.dir, UserHelper)
		cmd := exec.Command("go", "build", "-o", helper.path, "github.com/govmm/govmm/cmd/govmm-usernet")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			helper.err = fmt.Errorf("go build ./cmd/govmm-usernet: %v\n%s", err, out)
		}
	})
	if helper.err != nil {
		t.Fatal(helper.err)
	}
	t.Setenv(UserHelperEnv, helper.path)
}

// startTestUser starts the helper for helperMAC, sandboxed where the
// kernel has seccomp, and closes it at the end of the test.
func startTestUser(t *testing.T, cfg UserConfig) *UserProc {
	t.Helper()
	useHelper(t)
	cfg.MAC = helperMAC
	cfg.NoSandbox = !seccomp.Supported()
	p, err := StartUser(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func ip4(s string) net.IP { return net.ParseIP(s).To4() }

func isARP(f []byte, op uint16) bool {
	return binary.BigEndian.Uint16(f[12:]) == etherTypeARP && len(f) >= ethHdrLen+28 &&
		binary.BigEndian.Uint16(f[ethHdrLen+6:]) == op
}

// tcpSYN is a TCP SYN segment from src:sport to dst:dport in an IPv4
// packet, with its checksum over the pseudo-header (RFC 793).
func tcpSYN(src, dst net.IP, sport, dport uint16) []byte {
	seg := make([]byte, 20)
	binary.BigEndian.PutUint16(seg[0:], sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	binary.BigEndian.PutUint32(seg[4:], 1000) // sequence number
	seg[12] = 5 << 4                          // data offset: 20 bytes
	seg[13] = 0x02                            // SYN
	binary.BigEndian.PutUint16(seg[14:], 65535)
	pseudo := make([]byte, 12)
	copy(pseudo[0:4], src.To4())
	copy(pseudo[4:8], dst.To4())
	pseudo[9] = protoTCP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	binary.BigEndian.PutUint16(seg[16:], inetChecksum(pseudo, seg))
	return ipv4Packet(protoTCP, src, dst, seg)
}

// udpDatagram is a UDP datagram without a checksum (allowed for IPv4, RFC
// 768) in an IPv4 packet.
func udpDatagram(src, dst net.IP, sport, dport uint16, data []byte) []byte {
	u := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(data)))
	return ipv4Packet(protoUDP, src, dst, append(u, data...))
}

const protoTCP = 6

// TestStartUserHelper: frames flow both ways through the helper (an ARP
// request for the gateway is answered), the guest's TCP and UDP reach the
// host's loopback through its NAT, a DNS query is relayed to the host's
// server, a host port forward is served (the
// gateway connects to the guest's port), all under the helper's seccomp
// filter; and once Close closes FD the helper exits 0 by itself and frees
// the forward's port.
func TestStartUserHelper(t *testing.T) {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	us, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fwd := free.Addr().String()
	free.Close()
	const guestPort = 8080
	// The UDP server doubles as the DNS server the relay asks.
	p := startTestUser(t, UserConfig{Forwards: []Forward{{HostAddr: fwd, GuestPort: guestPort}}, DNS: []string{us.LocalAddr().String()}})
	fd := p.FD()
	if p.VnetHdr() {
		t.Error("VnetHdr is true for the user network's bare frames")
	}
	if seccomp.Supported() {
		// Seccomp mode 2: a filter (proc(5)).
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
		if err != nil || !strings.Contains(string(status), "\nSeccomp:\t2\n") || !strings.Contains(string(status), "\nNoNewPrivs:\t1\n") {
			t.Errorf("the helper is not under its seccomp filter (%v):\n%s", err, status)
		}
	}
	gw, _ := net.ParseMAC("52:55:0a:00:02:02")
	guest, gwIP := ip4("10.0.2.15"), ip4("10.0.2.2")

	// ARP: who has 10.0.2.2?
	sendFrame(t, fd, ethFrame(broadcastMAC, helperMAC, etherTypeARP, arpPacket(1, helperMAC, guest, make(net.HardwareAddr, 6), gwIP)))
	f := awaitFrame(t, fd, "the gateway's ARP reply", func(f []byte) bool { return isARP(f, 2) })
	if sha := net.HardwareAddr(f[ethHdrLen+8 : ethHdrLen+14]); sha.String() != gw.String() {
		t.Errorf("10.0.2.2 is at %v, want %v", sha, gw)
	}

	// NAT: a UDP datagram and a TCP SYN to 10.0.2.2 reach 127.0.0.1.
	_, uport, _ := net.SplitHostPort(us.LocalAddr().String())
	var up, tp uint16
	fmt.Sscan(uport, &up)
	_, tport, _ := net.SplitHostPort(tl.Addr().String())
	fmt.Sscan(tport, &tp)
	sendFrame(t, fd, ethFrame(gw, helperMAC, etherTypeIPv4, udpDatagram(guest, gwIP, 40000, up, []byte("datagram"))))
	us.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	if n, _, err := us.ReadFrom(buf); err != nil || string(buf[:n]) != "datagram" {
		t.Errorf("host UDP socket: %q, %v; want the guest's datagram", buf[:n], err)
	}
	query := []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00query") // a DNS header and more
	sendFrame(t, fd, ethFrame(gw, helperMAC, etherTypeIPv4, udpDatagram(guest, gwIP, 40002, 53, query)))
	if n, _, err := us.ReadFrom(buf); err != nil || string(buf[:n]) != string(query) {
		t.Errorf("DNS server: %q, %v; want the guest's query, relayed", buf[:n], err)
	}
	sendFrame(t, fd, ethFrame(gw, helperMAC, etherTypeIPv4, tcpSYN(guest, gwIP, 40001, tp)))
	tl.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	if c, err := tl.Accept(); err != nil {
		t.Errorf("host TCP listener: %v; want the guest's connection", err)
	} else {
		c.Close()
	}

	// The forward: a host connection makes the gateway connect to the
	// guest's port (after asking for the guest's MAC).
	hc, err := net.DialTimeout("tcp", fwd, 5*time.Second)
	if err != nil {
		t.Fatalf("forward %s: %v", fwd, err)
	}
	defer hc.Close()
	awaitFrame(t, fd, "the gateway's SYN to the guest's port", func(f []byte) bool {
		if isARP(f, 1) && net.IP(f[ethHdrLen+24:ethHdrLen+28]).Equal(guest) {
			a := f[ethHdrLen:]
			reply := arpPacket(2, helperMAC, guest, net.HardwareAddr(a[8:14]), net.IP(a[14:18]))
			sendFrame(t, fd, ethFrame(net.HardwareAddr(a[8:14]), helperMAC, etherTypeARP, reply))
			return false
		}
		ip, err := parseIPv4Frame(f)
		return err == nil && ip.Proto == protoTCP && len(ip.Payload) >= 20 && ip.Dst.Equal(guest) &&
			binary.BigEndian.Uint16(ip.Payload[2:]) == guestPort && ip.Payload[13]&0x02 != 0
	})

	// Close: the helper reads end of file and exits 0 by itself.
	p.Close()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("helper: %v, want exit status 0", err)
		}
	case <-time.After(10 * time.Second):
		syscall.Kill(p.Pid(), syscall.SIGKILL)
		t.Fatal("the helper still runs 10s after Close")
	}
	hc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := hc.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("forwarded connection: read %d, %v after the helper exited; want it ended", n, err)
	}
	if ln, err := net.Listen("tcp", fwd); err != nil {
		t.Errorf("forward address after the helper exited: %v", err)
	} else {
		ln.Close()
	}
}

// TestStartUserHelperDies: when the helper dies, FD reads end of file and
// writes fail with EPIPE, which the virtio-net device takes for a link
// that went down.
func TestStartUserHelperDies(t *testing.T) {
	p := startTestUser(t, UserConfig{})
	if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait() // its descriptors are closed once it is reaped
	n, err := unix.Read(p.FD(), make([]byte, 2048))
	if n != 0 || err != nil {
		t.Errorf("read after the helper died: %d, %v; want 0 (end of file)", n, err)
	}
	if _, err := unix.Write(p.FD(), make([]byte, 60)); !errors.Is(err, unix.EPIPE) {
		t.Errorf("write after the helper died: %v, want EPIPE", err)
	}
}

// TestStartUserHelperMissing: without the helper StartUser fails with one
// line that names it, where it looked and how to build it.
func TestStartUserHelperMissing(t *testing.T) {
	if exe, err := os.Executable(); err == nil && checkExecutable(filepath.Join(filepath.Dir(exe), UserHelper)) == nil {
		t.Skipf("a %s lies beside this test binary", UserHelper)
	}
	t.Setenv(UserHelperEnv, "")
	t.Setenv("PATH", t.TempDir())
	_, err := StartUser(UserConfig{MAC: helperMAC})
	if err == nil {
		t.Fatal("StartUser without a helper succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"user network: ", "govmm-usernet not found", "$PATH", "make build", "go install ./cmd/govmm-usernet", UserHelperEnv} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q is more than one line", msg)
	}
	t.Log(msg)

	bad := filepath.Join(t.TempDir(), "nothing-here")
	t.Setenv(UserHelperEnv, bad)
	if _, err := StartUser(UserConfig{MAC: helperMAC}); err == nil || !strings.Contains(err.Error(), UserHelperEnv+"="+bad) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("with %s=%s: %v; want an error naming it", UserHelperEnv, bad, err)
	}
}

// TestStartUserHelperError: what the helper refuses comes back as its one
// line, after "user network: ".
func TestStartUserHelperError(t *testing.T) {
	useHelper(t)
	_, err := StartUser(UserConfig{MAC: helperMAC, DNS: []string{"not-an-ip"}, NoSandbox: true})
	if err == nil {
		t.Fatal("StartUser with a malformed DNS server succeeded")
	}
	if want := `user network: DNS server "not-an-ip": want IP or IP:PORT`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// TestStartUserPortInUse: a taken forward address fails StartUser with
// one line that names it, before any helper starts.
func TestStartUserPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	t.Setenv(UserHelperEnv, filepath.Join(t.TempDir(), "not-needed"))
	_, err = StartUser(UserConfig{MAC: helperMAC, Forwards: []Forward{{HostAddr: addr, GuestPort: 22}}})
	want := fmt.Sprintf("user network: forward %s to guest port 22: bind: address already in use", addr)
	if err == nil || err.Error() != want || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v, want %q wrapping EADDRINUSE", err, want)
	}
}

// TestStartUserBadMAC: a missing or multicast MAC is refused before the
// helper starts.
func TestStartUserBadMAC(t *testing.T) {
	t.Setenv(UserHelperEnv, filepath.Join(t.TempDir(), "not-needed"))
	for _, mac := range []net.HardwareAddr{nil, {0x01, 0, 0x5e, 0, 0, 1}} {
		if _, err := StartUser(UserConfig{MAC: mac}); err == nil || !strings.Contains(err.Error(), "not a unicast Ethernet address") {
			t.Errorf("MAC %v: %v", mac, err)
		}
	}
}

// TestUserHelperArgs: the command line StartUser gives the helper.
func TestUserHelperArgs(t *testing.T) {
	got := strings.Join(userHelperArgs(UserConfig{
		MAC:       helperMAC,
		Forwards:  []Forward{{HostAddr: "127.0.0.1:2222", GuestPort: 22}, {HostAddr: "[::1]:8080", GuestPort: 80}},
		DNS:       []string{"192.0.2.1", "192.0.2.2:5353"},
		NoSandbox: true,
	}), " ")
	want := "-mac 02:00:00:00:00:15 -forwards 22,80 -dns 192.0.2.1,192.0.2.2:5353 -sandbox=off"
	if got != want {
		t.Errorf("args %q, want %q", got, want)
	}
	if got := strings.Join(userHelperArgs(UserConfig{MAC: helperMAC}), " "); got != "-mac 02:00:00:00:00:15" {
		t.Errorf("args %q, want only -mac", got)
	}
}
