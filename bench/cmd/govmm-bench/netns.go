package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// privateNet is a private network namespace owned by one locked OS thread,
// as internal/netnstest makes one for tests (that package needs a
// testing.TB): a goroutine locks its thread, never the main one, unshares
// CLONE_NEWNET and runs closures there (do). Sockets, netlink handles and
// tap fds made in a closure stay in the namespace, and a process started
// there (exec.Cmd.Start inside do) inherits it. The thread is never
// unlocked, so the runtime ends it at close and the namespace goes away
// with its last user.
type privateNet struct {
	jobs chan func()
	quit chan struct{}
	done chan struct{}
}

// newPrivateNet creates the namespace with lo up. It needs root.
func newPrivateNet() (*privateNet, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("a network namespace and a tap need root (euid %d)", os.Geteuid())
	}
	n := &privateNet{jobs: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread cannot be ended: hand over to a goroutine,
			// which gets another thread while this one stays locked.
			locked := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				close(locked)
				n.loop(ready)
			}()
			<-locked
			runtime.UnlockOSThread()
			return
		}
		n.loop(ready)
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	err := n.do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return err
	})
	if err != nil {
		n.close()
		return nil, fmt.Errorf("lo up: %w", err)
	}
	return n, nil
}

// loop moves its thread into a new network namespace and runs jobs there
// until close; it returns with the thread still locked.
func (n *privateNet) loop(ready chan<- error) {
	defer close(n.done)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		ready <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
		return
	}
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

// do runs fn on the namespace thread and returns its error. fn must not
// panic or call runtime.Goexit.
func (n *privateNet) do(fn func() error) error {
	res := make(chan error, 1)
	select {
	case n.jobs <- func() { res <- fn() }:
	case <-n.done:
		return errors.New("network namespace closed")
	}
	return <-res
}

// close ends the namespace thread. Processes started in the namespace keep
// it alive until they end; a VMM's Pdeathsig fires when the thread that
// started it ends, so close only after they have.
func (n *privateNet) close() {
	select {
	case <-n.quit:
	default:
		close(n.quit)
	}
	<-n.done
}

// addTap creates a persistent tap (IFF_VNET_HDR, no packet information)
// with address cidr, IPv6 off so that only the benchmark's frames cross
// it, and sets it up.
func (n *privateNet) addTap(name, cidr string) error {
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	return n.do(func() error {
		tap := &netlink.Tuntap{
			LinkAttrs: netlink.LinkAttrs{Name: name},
			Mode:      netlink.TUNTAP_MODE_TAP,
			Flags:     netlink.TUNTAP_DEFAULTS | netlink.TUNTAP_NO_PI,
		}
		if err := netlink.LinkAdd(tap); err != nil {
			return fmt.Errorf("tap %s: %w", name, err)
		}
		err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		link, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("tap %s: address %s: %w", name, cidr, err)
		}
		return netlink.LinkSetUp(link)
	})
}

// flushNeighbours forgets the link-layer addresses learnt on the tap, so
// that a guest with another MAC (QEMU's default against govmm's) starts
// from an empty cache.
func (n *privateNet) flushNeighbours(name string) error {
	return n.do(func() error {
		link, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		ns, err := netlink.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for i := range ns {
			if err := netlink.NeighDel(&ns[i]); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
		return nil
	})
}
