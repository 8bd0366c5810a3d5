//go:build !race

package virtio_test

import (
	"encoding/binary"
	"testing"

	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"golang.org/x/sys/unix"
)

// Signal the queue's eventfd directly, as KVM does for a guest write to an
// address bound with KVM_IOEVENTFD: the device must serve the queue without
// the notify register ever being written. (Not built with -race: the race
// detector cannot see the ordering an eventfd write gives, so it would
// report the fake driver's ring writes.)
func TestIoeventfdKickBypassesTransport(t *testing.T) {
	e, q := startRNG(t, fVersion1, 16)
	fds := e.T.Ioeventfds()
	if len(fds) != 1 {
		t.Fatalf("Ioeventfds = %+v", fds)
	}
	a := e.Buf(64, 0)
	q.AddChain(virtiotest.Buffer{Addr: a, Len: 64, Write: true})
	var one [8]byte
	binary.LittleEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(fds[0].FD, one[:]); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitQueue(0); err != nil {
		t.Fatal(err)
	}
	if u, ok, err := q.PopUsed(); !ok || err != nil || u.Len != 64 {
		t.Fatalf("used %+v %v %v", u, ok, err)
	}
}
