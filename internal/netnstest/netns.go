// Package netnstest gives a test (New) or a program such as the benchmark
// (Open) a private network namespace, without `ip netns` and without
// writing anything to the file system (the nested test host's root is
// read-only, so /run/netns may not be writable).
//
// The namespace belongs to one OS thread: Open starts a goroutine that locks
// itself to its thread and calls unshare(CLONE_NEWNET), which moves that
// thread alone. Everything that must happen inside the namespace runs as a
// closure on that goroutine (Do). Network namespaces are bound when a
// resource is made, so what a closure creates stays in the namespace
// wherever it is used later: a socket, a netlink handle, a /dev/net/tun fd,
// and a process started there (Start: the fork happens on the calling
// thread, and the child inherits its namespaces).
//
// The goroutine never unlocks its thread, so when the namespace is closed
// the Go runtime ends the thread instead of reusing it, and the namespace
// goes away with its last reference, taking its interfaces with it (a
// process started in it, or a socket or tap fd opened in it and still open,
// is such a reference). That thread is never the process's main thread,
// which the runtime cannot end and whose namespace is the one
// /proc/self/ns/net and /proc/net show.
//
// Creating a namespace needs CAP_SYS_ADMIN and a tap CAP_NET_ADMIN: tests
// that use this package must run as root, and fail (never skip) otherwise.
package netnstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NS is a private network namespace, owned by one locked OS thread.
type NS struct {
	jobs chan func()
	quit chan struct{} // closed by Close
	done chan struct{} // closed when the namespace thread has returned
	once sync.Once
	tid  int
}

// errClosed is what Do returns once the namespace thread is gone.
var errClosed = errors.New("netnstest: namespace closed")

// TB is the part of testing.TB that New uses. It is an interface of its
// own so that a program that calls only Open (the benchmark) does not link
// the testing package.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// New creates a network namespace with its loopback interface up (Open).
// It fails the test if that is impossible (not root, no network
// namespaces), and closes the namespace when the test ends.
func New(t TB) *NS {
	t.Helper()
	n, err := Open()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(n.Close)
	return n
}

// Open creates a network namespace with its loopback interface up. It
// needs root (CAP_SYS_ADMIN, and CAP_NET_ADMIN for taps); the caller closes
// the namespace. It is New for a program that is not a test.
func Open() (*NS, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("netnstest: creating a network namespace and tap interfaces needs root (euid is %d); run as root", os.Geteuid())
	}
	n := newNS()
	ready := make(chan error, 1)
	go n.start(ready)
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("netnstest: %w", err)
	}
	err := n.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return err
	})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("netnstest: bringing lo up: %w", err)
	}
	return n, nil
}

func newNS() *NS {
	return &NS{jobs: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
}

// start locks the calling goroutine to its OS thread and runs loop there,
// unless that thread is the process's main thread. The runtime never ends
// the main thread: a goroutine that exits locked to it wedges it instead, so
// the namespace would outlive Close, and /proc/self/ns/net and /proc/net
// (which show the main thread's namespace) would show it. On the main
// thread, start hands loop to a new goroutine, which cannot run on the main
// thread while start holds it, and returns once that goroutine has its own
// thread.
func (n *NS) start(ready chan<- error) {
	runtime.LockOSThread()
	if unix.Gettid() != unix.Getpid() {
		n.loop(ready)
		return // still locked: the runtime ends the thread
	}
	locked := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		close(locked)
		n.loop(ready)
	}()
	<-locked
	runtime.UnlockOSThread()
}

// loop is the namespace thread. Its goroutine is locked to a thread that is
// not the main thread; loop moves that thread into a new network namespace
// and runs jobs there until Close. It returns without unlocking the thread,
// so the runtime ends the thread rather than reuse it in a namespace nobody
// expects.
func (n *NS) loop(ready chan<- error) {
	defer close(n.done)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		ready <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		return
	}
	n.tid = unix.Gettid()
	ready <- nil
	for {
		select {
		case job := <-n.jobs:
			job()
		case <-n.quit:
			return
		}
	}
}

// Close ends the namespace thread and waits for it. The namespace and its
// interfaces disappear once nothing else refers to it. Close is safe to call
// more than once.
func (n *NS) Close() {
	n.once.Do(func() { close(n.quit) })
	<-n.done
}

// TID returns the thread ID of the namespace thread; /proc/self/task/TID/ns/net
// names the namespace while the thread lives.
func (n *NS) TID() int { return n.tid }

// result is what a job hands back to Do.
type result struct {
	err      error
	panicked bool
	value    any // the panic value
	goexit   bool
}

// Do runs fn on the namespace thread and returns its error. A panic in fn is
// raised again in the caller. fn must not call t.FailNow (t.Fatal): that
// would end the namespace thread, so Do reports it as an error and every
// later Do fails.
func (n *NS) Do(fn func() error) error {
	res := make(chan result, 1)
	job := func() {
		finished := false
		defer func() {
			if finished {
				return
			}
			if r := recover(); r != nil {
				res <- result{panicked: true, value: r}
				return
			}
			res <- result{goexit: true}
		}()
		err := fn()
		finished = true
		res <- result{err: err}
	}
	select {
	case n.jobs <- job:
	case <-n.done:
		return errClosed
	}
	r := <-res
	switch {
	case r.panicked:
		panic(r.value)
	case r.goexit:
		return errors.New("netnstest: fn called runtime.Goexit (t.FailNow?) on the namespace thread, which is gone now")
	}
	return r.err
}

// AddTap creates a persistent tap interface name with address cidr (e.g.
// "10.0.2.1/24") and sets it up. No process has it open afterwards, so its
// carrier is off until one does (hostnet.OpenTap inside Do). IPv6 is turned
// off on it, so that the only frames on the tap are the ones a test causes
// (no router solicitations, MLD reports or duplicate address probes).
func (n *NS) AddTap(name, cidr string) error {
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		return fmt.Errorf("netnstest: tap %q: address: %w", name, err)
	}
	err = n.Do(func() error {
		tap := &netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: name},
			Mode:      netlink.TUNTAP_MODE_TAP,
			Flags:     netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI,
		}
		if err := netlink.LinkAdd(tap); err != nil {
			return err
		}
		// /proc/sys/net shows the namespace of the thread that opens it.
		// A kernel without IPv6 has no such file and needs nothing.
		err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		link, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("address %s: %w", cidr, err)
		}
		return netlink.LinkSetUp(link)
	})
	if err != nil {
		return fmt.Errorf("netnstest: tap %q: %w", name, err)
	}
	return nil
}

// Start starts cmd on the namespace thread, so that the process runs in the
// namespace.
func (n *NS) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// Run starts cmd in the namespace and waits for it to finish.
func (n *NS) Run(cmd *exec.Cmd) error {
	if err := n.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}
