//go:build !race

package virtio_test

import (
	"testing"
	"time"

	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
)

// (Not built with -race: replies complete in rounds the test cannot see
// the end of, so its reads of the used ring overlap the worker's later
// pushes, as a real driver's do.)
// More requests than the server may hold at once, with repeated guest
// tags: every chain gets its own answer.
func TestNinePManyRequests(t *testing.T) {
	p := startNineP(t, false)
	p.session(t)
	const n = 60
	outs := map[uint16]memory.GuestAddress{}
	for i := 0; i < n; i++ {
		tm := tgetattr(uint16(i%7), 0)
		in := p.Buf(uint64(len(tm)), 0)
		p.Mem.Write(in, tm)
		out := p.Buf(256, 0)
		head, err := p.q.AddChain(virtiotest.Buffer{Addr: in, Len: uint32(len(tm))}, virtiotest.Buffer{Addr: out, Len: 256, Write: true})
		if err != nil {
			t.Fatal(err)
		}
		outs[head] = out
	}
	p.D.Kick(0)
	got := 0
	deadline := time.Now().Add(virtiotest.Timeout)
	for got < n && time.Now().Before(deadline) {
		u, ok, err := p.q.PopUsed()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if err := p.WaitQueue(0); err != nil {
				t.Fatalf("%d of %d answered: %v", got, n, err)
			}
			continue
		}
		r := p.Bytes(outs[uint16(u.ID)], uint64(u.Len))
		if _, typ, _ := reply(r); typ != 25 {
			t.Fatalf("chain %d: % x", u.ID, r)
		}
		got++
	}
	if got != n {
		t.Fatalf("%d of %d answered", got, n)
	}
}
