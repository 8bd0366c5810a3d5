package guestinit

import (
	"net"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/netnstest"
	"github.com/vishvananda/netlink"
)

// TestLoopbackUp: in a private network namespace with lo down (as a fresh
// kernel has it), LoopbackUp brings it up and 127.0.0.1 answers.
func TestLoopbackUp(t *testing.T) {
	ns := netnstest.New(t)
	err := ns.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetDown(lo); err != nil {
			return err
		}
		if _, err := net.DialTimeout("tcp", "127.0.0.1:1", 200*time.Millisecond); err == nil {
			t.Error("127.0.0.1 reachable with lo down")
		}
		if err := LoopbackUp(); err != nil {
			return err
		}
		if lo, err = netlink.LinkByName("lo"); err != nil {
			return err
		}
		if lo.Attrs().Flags&net.FlagUp == 0 {
			t.Error("lo is still down")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
