package sandbox

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

func init() {
	children["usernet"] = userNetChild
	children["usernet-without"] = func() {
		ln := loopbackListener()
		installWith()
		forbidden(func() { net.Dial("tcp", ln.Addr().String()) })
	}
}

// installWith is install with extra rules.
func installWith(extra ...Rule) {
	if err := InstallWith(extra...); err != nil {
		fmt.Fprintln(os.Stderr, "InstallWith:", err)
		os.Exit(3)
	}
}

func loopbackListener() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(3)
	}
	return ln
}

// userNetChild does what user-mode networking does after set-up, under the
// filter with UserNet, and prints "ok": TCP connect, accept on a listener
// made at set-up, data both ways, a half-close, and a UDP datagram sent
// from a new connected socket.
func userNetChild() {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(5)
	}
	// Set-up: listening sockets exist before Install (govmm binds them and
	// hands them to govmm-usernet).
	ln := loopbackListener()
	us, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fail("udp listen", err)
	}
	ufd, err := us.(*net.UDPConn).SyscallConn()
	if err != nil {
		fail("udp fd", err)
	}

	installWith(UserNet...)

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			fail("accept", err)
		}
		accepted <- c
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		fail("dial tcp", err)
	}
	a := <-accepted
	if _, err := c.Write([]byte("to host")); err != nil {
		fail("write", err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		fail("CloseWrite", err)
	}
	if b, err := io.ReadAll(a); err != nil || string(b) != "to host" {
		fail("read", fmt.Errorf("%q, %v", b, err))
	}
	a.Close()
	c.Close()

	u, err := net.Dial("udp", us.LocalAddr().String())
	if err != nil {
		fail("dial udp", err)
	}
	if _, err := u.Write([]byte("datagram")); err != nil {
		fail("udp write", err)
	}
	// Read the datagram with read(2): a server's recvfrom is not what
	// user networking makes.
	var n int
	var rerr error
	ufd.Read(func(fd uintptr) bool {
		b := make([]byte, 64)
		n, rerr = unix.Read(int(fd), b)
		return rerr != unix.EAGAIN
	})
	if rerr != nil || n != len("datagram") {
		fail("udp read", fmt.Errorf("%d bytes, %v", n, rerr))
	}
	u.Close()
	fmt.Println("ok")
}

// TestUserNetCallsWork: what user networking does after set-up works under
// the filter with UserNet.
func TestUserNetCallsWork(t *testing.T) {
	if !seccomp.Supported() {
		t.Skip("no seccomp on this kernel")
	}
	if code, stdout, stderr := child(t, "usernet"); code != 0 || stdout != "ok\n" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestUserNetNeeded: without UserNet, a TCP connect ends the process at its
// first call, socket(2).
func TestUserNetNeeded(t *testing.T) {
	if !seccomp.Supported() {
		t.Skip("no seccomp on this kernel")
	}
	code, _, stderr := child(t, "usernet-without")
	want := fmt.Sprintf("%s%d%s", Prefix, unix.SYS_SOCKET, Suffix)
	if code != 1 || stderr != want {
		t.Fatalf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}
}

// TestUserNetRules: UserNet names real system calls once each, none of
// them already in Allowed, each with a one-line reason; it keeps files,
// exec and the set-up-only socket calls out; it assembles alone and with
// the other extra sets.
func TestUserNetRules(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range Allowed {
		seen[r.Name] = true
	}
	for _, r := range UserNet {
		if seen[r.Name] {
			t.Errorf("%s: listed twice", r.Name)
		}
		seen[r.Name] = true
		if _, ok := info.SyscallNames[r.Name]; !ok {
			t.Errorf("%s: not a system call on %s", r.Name, info.Name)
		}
		if strings.TrimSpace(r.Why) == "" || strings.Contains(r.Why, "\n") {
			t.Errorf("%s: needs a one-line reason, got %q", r.Name, r.Why)
		}
	}
	for _, deny := range []string{"openat", "open", "execve", "bind", "listen", "socketpair", "ptrace"} {
		for _, r := range UserNet {
			if r.Name == deny {
				t.Errorf("%s is in UserNet", deny)
			}
		}
	}
	for _, set := range [][]Rule{UserNet, append(append(append([]Rule{}, UserNet...), FileServer...), Restart...)} {
		p, err := Policy(set...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Assemble(); err != nil {
			t.Fatalf("assembling with UserNet: %v", err)
		}
	}
}
