package netnstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// init keeps the main goroutine, which runs TestMain, on the main thread.
func init() { runtime.LockOSThread() }

var (
	// processNS is the test process's network namespace, read before any
	// test ran.
	processNS string
	// mainThreadErr is what TestMain found when it started a namespace from
	// the main thread; TestStartOnMainThread reports it.
	mainThreadErr error
)

func TestMain(m *testing.M) {
	var err error
	if processNS, err = os.Readlink("/proc/self/ns/net"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mainThreadErr = startOnMainThread()
	os.Exit(m.Run())
}

// startOnMainThread runs NS.start on the main thread, which the runtime
// cannot end, and checks that the namespace went to another thread.
func startOnMainThread() error {
	if unix.Gettid() != unix.Getpid() {
		return fmt.Errorf("TestMain runs on thread %d, not the main thread %d", unix.Gettid(), unix.Getpid())
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root (euid %d): cannot create a network namespace", os.Geteuid())
	}
	n := newNS()
	ready := make(chan error, 1)
	// On the main thread start returns at once; if it ran the namespace
	// loop here instead, it would never return.
	stuck := time.AfterFunc(30*time.Second, func() {
		fmt.Fprintln(os.Stderr, "netnstest: NS.start called on the main thread did not return: it runs the namespace there")
		os.Exit(1)
	})
	n.start(ready)
	stuck.Stop()
	if err := <-ready; err != nil {
		return err
	}
	defer n.Close()
	if n.TID() == unix.Getpid() {
		return fmt.Errorf("namespace thread is the main thread")
	}
	if s, _ := os.Readlink("/proc/self/ns/net"); s != processNS {
		return fmt.Errorf("main thread moved from %s to %s", processNS, s)
	}
	if s, _ := os.Readlink(fmt.Sprintf("/proc/self/task/%d/ns/net", n.TID())); s == processNS {
		return fmt.Errorf("namespace thread %d is in the process's namespace %s", n.TID(), s)
	}
	return nil
}

func TestStartOnMainThread(t *testing.T) {
	if mainThreadErr != nil {
		t.Fatalf("starting a namespace from the main thread: %v", mainThreadErr)
	}
}

// nsOf returns the network namespace of a /proc task directory, e.g.
// "net:[4026531840]", and checks that the main thread is still where it
// started.
func nsOf(t *testing.T, task string) string {
	t.Helper()
	if s, err := os.Readlink("/proc/self/ns/net"); err != nil || s != processNS {
		t.Fatalf("main thread moved to namespace %s (%v), was %s", s, err, processNS)
	}
	s, err := os.Readlink(task + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNamespaceIsPrivate(t *testing.T) {
	n := New(t)
	outside := nsOf(t, "/proc/self")
	inside := nsOf(t, fmt.Sprintf("/proc/self/task/%d", n.TID()))
	if inside == processNS {
		t.Fatalf("namespace thread is in the test process's namespace %s", outside)
	}
	var names []string
	err := n.Do(func() error {
		// No t.Fatal on the namespace thread: see Do.
		if s, err := os.Readlink("/proc/thread-self/ns/net"); s != inside {
			return fmt.Errorf("Do ran on a thread in %s (%v), want %s", s, err, inside)
		}
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, fmt.Sprintf("%s/%v", i.Name, i.Flags&net.FlagUp != 0))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names, " "); got != "lo/true" {
		t.Errorf("interfaces in a new namespace: %q, want only lo, up", got)
	}
	// The test's own thread is still outside.
	if s := nsOf(t, "/proc/thread-self"); s != outside {
		t.Errorf("test goroutine's thread is in %s, want %s", s, outside)
	}
}

// TestStartInheritsNamespace checks what Start relies on: a process forked
// from the namespace thread is in the namespace, and one forked elsewhere is
// not.
func TestStartInheritsNamespace(t *testing.T) {
	n := New(t)
	inside := nsOf(t, fmt.Sprintf("/proc/self/task/%d", n.TID()))
	outside := nsOf(t, "/proc/self")
	if err := n.AddTap("nstap0", "10.9.0.1/24"); err != nil {
		t.Fatal(err)
	}
	child := func(start func(*exec.Cmd) error) (ns, devs string) {
		var out bytes.Buffer
		cmd := exec.Command("sh", "-c", "readlink /proc/self/ns/net; cat /proc/self/net/dev")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := start(cmd); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: %s", err, out.Bytes())
		}
		ns, devs, _ = strings.Cut(out.String(), "\n")
		return ns, devs
	}
	ns, devs := child(n.Start)
	if ns != inside {
		t.Errorf("child started with Start is in %s, want the namespace's %s", ns, inside)
	}
	if !strings.Contains(devs, "nstap0:") || !strings.Contains(devs, "lo:") || strings.Count(devs, ":") != 2 {
		t.Errorf("child started with Start sees these interfaces, want lo and nstap0 only:\n%s", devs)
	}
	ns, devs = child((*exec.Cmd).Start)
	if ns != outside || strings.Contains(devs, "nstap0:") {
		t.Errorf("child started outside is in %s (want %s), interfaces:\n%s", ns, outside, devs)
	}

	var out bytes.Buffer
	cmd := exec.Command("readlink", "/proc/self/ns/net")
	cmd.Stdout = &out
	if err := n.Run(cmd); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != inside {
		t.Errorf("child run with Run is in %s, want %s", got, inside)
	}
}

// TestAddTap checks that the tap outlives the fd that created it (it is
// persistent, so another process can open it by name), and its address and
// state.
func TestAddTap(t *testing.T) {
	n := New(t)
	if err := n.AddTap("gtap0", "10.0.2.1/24"); err != nil {
		t.Fatal(err)
	}
	if err := n.AddTap("gtap0", "10.0.3.1/24"); err == nil || !strings.Contains(err.Error(), `tap "gtap0"`) {
		t.Errorf("AddTap of an existing name: %v, want an error naming it", err)
	}
	if err := n.AddTap("gtap1", "10.0.2.1"); err == nil || !strings.Contains(err.Error(), "address") {
		t.Errorf("AddTap with a bad address: %v", err)
	}
	err := n.Do(func() error {
		link, err := netlink.LinkByName("gtap0")
		if err != nil {
			return err
		}
		tap, ok := link.(*netlink.Tuntap)
		if !ok {
			return fmt.Errorf("gtap0 is a %s, want tuntap", link.Type())
		}
		if tap.Mode != netlink.TUNTAP_MODE_TAP || tap.NonPersist {
			return fmt.Errorf("gtap0: mode %v, non-persistent %v; want a persistent tap", tap.Mode, tap.NonPersist)
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("gtap0 is down")
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || addrs[0].IPNet.String() != "10.0.2.1/24" {
			return fmt.Errorf("gtap0 addresses %v, want only 10.0.2.1/24", addrs)
		}
		// Persistent: attach to it by name, as govmm will.
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifr, _ := unix.NewIfreq("gtap0")
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("TUNSETIFF gtap0: %w", err)
		}
		if err := unix.IoctlIfreq(fd, unix.TUNGETIFF, ifr); err != nil {
			return err
		}
		if ifr.Uint16()&unix.IFF_PERSIST == 0 {
			return fmt.Errorf("gtap0 flags %#x: not persistent", ifr.Uint16())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The tap is in the namespace only.
	if _, err := net.InterfaceByName("gtap0"); err == nil {
		t.Errorf("gtap0 is visible outside the namespace")
	}
}

func TestDo(t *testing.T) {
	n := New(t)
	want := fmt.Errorf("boom")
	if err := n.Do(func() error { return want }); err != want {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "fn panic" {
				t.Errorf("recovered %v, want fn's panic", r)
			}
		}()
		n.Do(func() error { panic("fn panic") })
		t.Errorf("Do did not panic")
	}()
	if err := n.Do(func() error { return nil }); err != nil {
		t.Fatalf("Do after a panic in fn: %v", err)
	}
	tid := n.TID()
	if err := n.Do(func() error { runtime.Goexit(); return nil }); err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Errorf("Do of an fn that calls Goexit: %v", err)
	}
	if err := n.Do(func() error { return nil }); err != errClosed {
		t.Errorf("Do after the thread ended: %v, want %v", err, errClosed)
	}
	waitThreadGone(t, tid)
}

// TestCloseEndsThread checks that Close ends the namespace thread rather
// than returning it to the runtime's pool.
func TestCloseEndsThread(t *testing.T) {
	n := New(t)
	tid := n.TID()
	n.Close()
	n.Close()
	waitThreadGone(t, tid)
	if err := n.Do(func() error { return nil }); err != errClosed {
		t.Errorf("Do after Close: %v, want %v", err, errClosed)
	}
}

// waitThreadGone waits until thread tid of this process has exited.
func waitThreadGone(t *testing.T, tid int) {
	t.Helper()
	task := fmt.Sprintf("/proc/self/task/%d", tid)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(task); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace thread %d still alive 5s after its goroutine ended", tid)
		}
	}
}

// TestOpen checks the constructor for programs that are not tests: it
// returns a working namespace that the caller closes, and New's TB is
// satisfied by testing.TB.
func TestOpen(t *testing.T) {
	var _ TB = testing.TB(nil)
	n, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	tid := n.TID()
	if s := nsOf(t, fmt.Sprintf("/proc/self/task/%d", tid)); s == processNS {
		t.Errorf("Open's namespace thread is in the process's namespace %s", s)
	}
	if err := n.Do(func() error { _, err := netlink.LinkByName("lo"); return err }); err != nil {
		t.Errorf("Do in Open's namespace: %v", err)
	}
	n.Close()
	waitThreadGone(t, tid)
}
