package virtio_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
)

// syncBuffer is a bytes.Buffer safe for the worker and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startConsole(t *testing.T) (*virtiotest.Env, *virtio.Console, *syncBuffer, *virtiotest.SplitQueue, *virtiotest.SplitQueue) {
	t.Helper()
	out := &syncBuffer{}
	c := virtio.NewConsole(out)
	e := newEnv(t, c)
	rx, tx := e.NewQueue(16), e.NewQueue(16)
	if err := e.Start(fVersion1|fEventIdx, rx, tx); err != nil {
		t.Fatal(err)
	}
	return e, c, out, rx, tx
}

func TestConsoleTransmit(t *testing.T) {
	e, _, out, _, tx := startConsole(t)
	a := e.Buf(5, 0)
	b := e.Buf(6, 0)
	e.Mem.Write(a, []byte("hello"))
	e.Mem.Write(b, []byte(" world"))
	tx.AddChain(virtiotest.Buffer{Addr: a, Len: 5}, virtiotest.Buffer{Addr: b, Len: 6})
	u, err := e.Submit(1, tx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len != 0 || out.String() != "hello world" {
		t.Fatalf("used %+v, output %q", u, out.String())
	}
}

func TestConsoleReceive(t *testing.T) {
	e, c, _, rx, _ := startConsole(t)
	a := e.Buf(4, 0)
	b := e.Buf(4, 0)
	rx.AddChain(virtiotest.Buffer{Addr: a, Len: 4, Write: true})
	rx.AddChain(virtiotest.Buffer{Addr: b, Len: 4, Write: true})
	e.D.Kick(0)
	if n := c.Input([]byte("abcdef")); n != 6 {
		t.Fatalf("Input took %d", n)
	}
	if err := e.WaitQueue(0); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < 6 {
		u, ok, err := rx.PopUsed()
		if err != nil || !ok {
			// The two chains may be answered in two rounds.
			if err := e.WaitQueue(0); err != nil {
				t.Fatalf("got %q so far: %v", got, err)
			}
			continue
		}
		addr := a
		if u.ID == 1 {
			addr = b
		}
		got = append(got, e.Bytes(addr, uint64(u.Len))...)
	}
	if string(got) != "abcdef" {
		t.Fatalf("guest received %q", got)
	}
}

// transmitBarrier sends one byte on the transmit queue and waits for it to
// come back used. The worker serves queues in index order and each kick
// stays pending in its eventfd until served, so when the transmit interrupt
// arrives, the worker has finished with every receive kick made before:
// the test may then write the receive ring without racing it.
func transmitBarrier(t *testing.T, e *virtiotest.Env, tx *virtiotest.SplitQueue) {
	t.Helper()
	a := e.Buf(1, '.')
	tx.AddChain(virtiotest.Buffer{Addr: a, Len: 1})
	if _, err := e.Submit(1, tx); err != nil {
		t.Fatal(err)
	}
}

func TestConsoleInputBeforeBuffers(t *testing.T) {
	e, c, out, rx, tx := startConsole(t)
	c.Input([]byte("xyz")) // no receive buffer yet: held
	transmitBarrier(t, e, tx)
	if out.String() != "." {
		t.Fatalf("output %q", out.String())
	}
	a := e.Buf(16, 0)
	rx.AddChain(virtiotest.Buffer{Addr: a, Len: 16, Write: true})
	u, err := e.Submit(0, rx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len != 3 || string(e.Bytes(a, 3)) != "xyz" {
		t.Fatalf("used %+v data %q", u, e.Bytes(a, 3))
	}
}

func TestConsoleInputIsBounded(t *testing.T) {
	c := virtio.NewConsole(nil)
	if n := c.Input(make([]byte, 100<<10)); n != 64<<10 {
		t.Errorf("Input took %d bytes, want 65536", n)
	}
	if n := c.Input([]byte("more")); n != 0 {
		t.Errorf("Input into a full backlog took %d", n)
	}
}

// A broken transmit queue does not stop the receive queue.
func TestConsoleBrokenQueueIsolated(t *testing.T) {
	e, c, _, rx, tx := startConsole(t)
	tx.WriteDesc(0, 0, 16, 1, 0) // descriptor 0 loops to itself
	tx.Publish(0)
	e.D.Kick(1)
	if err := e.WaitConfig(); err != nil {
		t.Fatal(err)
	}
	if e.D.Status()&0x40 == 0 {
		t.Fatal("NEEDS_RESET not set")
	}
	a := e.Buf(8, 0)
	rx.AddChain(virtiotest.Buffer{Addr: a, Len: 8, Write: true})
	c.Input([]byte("ok"))
	u, err := e.Submit(0, rx)
	if err != nil || u.Len != 2 || string(e.Bytes(a, 2)) != "ok" {
		t.Fatalf("receive after transmit broke: %+v %v", u, err)
	}
}
