package main

import (
	"errors"

	"github.com/govmm/govmm/internal/netnstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The benchmark's network runs in a private network namespace from
// internal/netnstest (Open): a locked OS thread, never the main one, in
// its own namespace, which runs closures (Do). Sockets and tap fds made in
// a closure stay in the namespace, and a VMM started in one (exec.Cmd.Start
// inside Do) inherits it. Close ends the thread and the namespace goes away
// with its last user. A VMM's Pdeathsig fires when the thread that started
// it ends, so close the namespace only after the VMMs have ended.
//
// The tap is netnstest's AddTap: persistent, no packet information, IPv6
// off so that only the benchmark's frames cross it.

// flushNeighbours forgets the link-layer addresses learnt on tap name in
// ns, so that a guest with another MAC (QEMU's default against govmm's)
// starts from an empty cache.
func flushNeighbours(ns *netnstest.NS, name string) error {
	return ns.Do(func() error {
		link, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		neighs, err := netlink.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for i := range neighs {
			if err := netlink.NeighDel(&neighs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
				return err
			}
		}
		return nil
	})
}
