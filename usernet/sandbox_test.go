package usernet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"github.com/govmm/govmm/hostnet"
	"github.com/govmm/govmm/internal/nocgo"
	"github.com/govmm/govmm/sandbox"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// The gateway under the seccomp filter govmm-usernet installs: a child
// process starts a User and a guest netstack, installs the filter with
// sandbox.UserNet and then uses every path (NAT to the host's loopback
// over TCP and UDP, the DNS relay over UDP and TCP, a host port forward).
// The servers and the forward's client run in this, unfiltered, process,
// so the child makes only the calls of the User, the guest's frame pumps
// (poll, read, write) and the Go runtime. (cmd/govmm-usernet's test runs
// the helper itself under its filter.)

// userSandboxEnv holds the child's settings: "filter tcpPort udpPort
// dnsAddr fwdAddr", filter being "usernet" or "base".
const userSandboxEnv = "GOVMM_USERNET_SANDBOX_CHILD"

// TestUserSandboxChild is the child; it does nothing in a normal run.
func TestUserSandboxChild(t *testing.T) {
	spec := os.Getenv(userSandboxEnv)
	if spec == "" {
		t.Skip("runs as TestUserUnderSandbox's child")
	}
	if err := userSandboxChild(strings.Fields(spec)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(5)
	}
	fmt.Println("ok")
	os.Exit(0)
}

func userSandboxChild(args []string) error {
	filter, tcpPort, udpPort, dnsAddr, fwdAddr := args[0], atoiPort(args[1]), atoiPort(args[2]), args[3], args[4]
	u, err := New(Config{MAC: testMAC, DNS: []string{dnsAddr}}, hostnet.Forward{HostAddr: fwdAddr, GuestPort: 8080})
	if err != nil {
		return err
	}
	g, err := startGuest(u.FD(), testMAC)
	if err != nil {
		return err
	}
	gl, err := gonet.ListenTCP(g.s, fullAddr(GuestIP, 8080), netipv4.ProtocolNumber)
	if err != nil {
		return err
	}
	var rules []sandbox.Rule
	if filter == "usernet" {
		rules = sandbox.UserNet
	}
	if err := sandbox.InstallWith(rules...); err != nil {
		return err
	}

	// NAT, TCP: one line to the host's echo server and back.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := gonet.DialContextTCP(ctx, g.s, fullAddr("10.0.2.2", tcpPort), netipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("tcp: %v", err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("tcp\n")); err != nil {
		return err
	}
	c.CloseWrite()
	if b, err := io.ReadAll(c); err != nil || string(b) != "tcp\n" {
		return fmt.Errorf("tcp echo: %q, %v", b, err)
	}
	c.Close()

	// NAT, UDP, and the DNS relay over UDP: a datagram each, echoed.
	for _, dst := range []uint16{udpPort, 53} {
		ra := fullAddr("10.0.2.2", dst)
		uc, err := gonet.DialUDP(g.s, nil, &ra, netipv4.ProtocolNumber)
		if err != nil {
			return err
		}
		q := dnsQuery(dst)
		buf := make([]byte, 512)
		var n int
		for try := 0; ; try++ {
			uc.Write(q)
			uc.SetReadDeadline(time.Now().Add(time.Second))
			if n, err = uc.Read(buf); err == nil || try == 5 {
				break
			}
		}
		if err != nil || !bytes.Equal(buf[:n], dnsAnswer(q)) {
			return fmt.Errorf("udp to port %d: % x, %v", dst, buf[:n], err)
		}
		uc.Close()
	}

	// The DNS relay over TCP.
	dc, err := gonet.DialContextTCP(ctx, g.s, fullAddr("10.0.2.2", 53), netipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("dns tcp: %v", err)
	}
	dc.SetDeadline(time.Now().Add(10 * time.Second))
	q := dnsQuery(7)
	dc.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...))
	if b, err := io.ReadAll(dc); err != nil || len(b) < 2 || !bytes.Equal(b[2:], dnsAnswer(q)) {
		return fmt.Errorf("dns tcp: % x, %v", b, err)
	}
	dc.Close()

	// The host port forward: the parent connects once told "ready"; the
	// guest echoes; the parent says "done" on stdin.
	fmt.Println("ready")
	a, err := gl.Accept()
	if err != nil {
		return err
	}
	a.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(a)
	if err != nil {
		return err
	}
	a.Write(b)
	a.Close()
	// Close only once the parent has the echo: closing the guest's
	// netstack would drop what it still has to send.
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the parent: %v", err)
	}
	g.Close()
	return u.Close()
}

func atoiPort(s string) uint16 {
	n, _ := strconv.Atoi(s)
	return uint16(n)
}

// hostServers starts, in this process, a TCP echo server, a UDP server and
// a DNS server (UDP and TCP on one port) that answer dnsQuery messages
// with dnsAnswer, and returns their ports and the DNS address.
func hostServers(t *testing.T) (tcpPort, udpPort uint16, dnsAddr string) {
	t.Helper()
	tl := listenLoopback(t)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	us, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { us.Close() })
	go answerDNSUDP(us)
	return portOf(tl.Addr()), portOf(us.LocalAddr()), fakeDNS(t)
}

// TestUserUnderSandbox: with sandbox.UserNet every path works under the
// filter; with the base filter alone the child's first UserNet call ends
// it with the sandbox's message.
func TestUserUnderSandbox(t *testing.T) {
	if !seccomp.Supported() {
		t.Skip("no seccomp on this kernel")
	}
	tcpPort, udpPort, dnsAddr := hostServers(t)
	for _, filter := range []string{"usernet", "base"} {
		t.Run(filter, func(t *testing.T) {
			free := listenLoopback(t)
			fwd := free.Addr().String()
			free.Close()
			nocgo.Require(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestUserSandboxChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %s %s", userSandboxEnv, filter, tcpPort, udpPort, dnsAddr, fwd))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
			defer timer.Stop()
			lines := bufio.NewScanner(out)
			var stdout []string
			for lines.Scan() {
				stdout = append(stdout, lines.Text())
				if lines.Text() == "ready" {
					forwardEcho(t, fwd)
					io.WriteString(in, "done\n")
				}
			}
			cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			if filter == "usernet" {
				if code != 0 || strings.Join(stdout, "\n") != "ready\nok" || stderr.Len() != 0 {
					t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr.String())
				}
				return
			}
			// The first UserNet call ends it: socket(2) for the NAT, or
			// accept4(2) if the forward's accept loop comes first.
			info, err := arch.GetInfo("")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range sandbox.UserNet {
				if stderr.String() == fmt.Sprintf("%s%d%s", sandbox.Prefix, info.SyscallNames[r.Name], sandbox.Suffix) && code == 1 {
					return
				}
			}
			t.Fatalf("exit %d, stderr %q; want exit 1 and the sandbox's line for a call in UserNet", code, stderr.String())
		})
	}
}

// forwardEcho connects to the forward fwd, sends a line, half-closes and
// expects it back from the guest.
func forwardEcho(t *testing.T, fwd string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fwd, 5*time.Second)
	if err != nil {
		t.Errorf("forward: %v", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("forwarded\n"))
	c.(*net.TCPConn).CloseWrite()
	if b, err := io.ReadAll(c); err != nil || string(b) != "forwarded\n" {
		t.Errorf("forward echo: %q, %v", b, err)
	}
}
