package virtio_test

import (
	"errors"
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
)

// queuePair is a driver queue and the device's view of it, used
// synchronously (no worker).
type queuePair struct {
	mem *memory.Memory
	drv *virtiotest.SplitQueue
	dev *virtio.Queue
}

func newQueuePair(t *testing.T, size uint16, features uint64) *queuePair {
	t.Helper()
	mem := virtiotest.NewMemory(1 << 20)
	drv, err := virtiotest.NewSplitQueue(mem, 0x1000, size)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := virtio.NewQueue(mem, size, drv.Desc, drv.Avail, drv.Used, features)
	if err != nil {
		t.Fatal(err)
	}
	return &queuePair{mem, drv, dev}
}

func TestNewQueueValidation(t *testing.T) {
	mem := virtiotest.NewMemory(1 << 20)
	cases := []struct {
		name              string
		size              uint16
		desc, avail, used memory.GuestAddress
	}{
		{"size 0", 0, 0x1000, 0x2000, 0x3000},
		{"size 3", 3, 0x1000, 0x2000, 0x3000},
		{"size 65535", 65535, 0x1000, 0x2000, 0x3000},
		{"desc not 16-aligned", 8, 0x1008, 0x2000, 0x3000},
		{"avail odd", 8, 0x1000, 0x2001, 0x3000},
		{"used not 4-aligned", 8, 0x1000, 0x2000, 0x3002},
		{"desc beyond RAM", 8, 1<<20 - 64, 0x2000, 0x3000},
		{"used beyond RAM", 8, 0x1000, 0x2000, 1<<20 - 8},
	}
	for _, c := range cases {
		if _, err := virtio.NewQueue(mem, c.size, c.desc, c.avail, c.used, 0); !errors.Is(err, virtio.ErrBadQueue) {
			t.Errorf("%s: err = %v, want ErrBadQueue", c.name, err)
		}
	}
	if _, err := virtio.NewQueue(mem, 32768, 0, 0x80000, 0x90000, 0); err != nil {
		t.Errorf("size 32768: %v", err)
	}
}

func TestPopFlattensChains(t *testing.T) {
	p := newQueuePair(t, 8, fIndirect)
	if c, err := p.dev.Pop(); c != nil || err != nil {
		t.Fatalf("empty queue Pop = %v, %v", c, err)
	}
	h1, _ := p.drv.AddChain(
		virtiotest.Buffer{Addr: 0x10000, Len: 16},
		virtiotest.Buffer{Addr: 0x10010, Len: 100},
		virtiotest.Buffer{Addr: 0x20000, Len: 512, Write: true},
		virtiotest.Buffer{Addr: 0x20200, Len: 1, Write: true},
	)
	h2, _ := p.drv.AddIndirect(0x30000,
		virtiotest.Buffer{Addr: 0x40000, Len: 7},
		virtiotest.Buffer{Addr: 0x50000, Len: 9, Write: true},
	)
	c, err := p.dev.Pop()
	if err != nil || c == nil {
		t.Fatalf("Pop = %v, %v", c, err)
	}
	if c.Head != h1 || len(c.Descs) != 4 || c.ReadableLen() != 116 || c.WritableLen() != 513 {
		t.Errorf("chain 1: head %d, %d descs, %d readable, %d writable", c.Head, len(c.Descs), c.ReadableLen(), c.WritableLen())
	}
	if err := p.dev.Push(c.Head, 513); err != nil {
		t.Fatal(err)
	}
	c, err = p.dev.Pop()
	if err != nil || c == nil {
		t.Fatalf("Pop indirect = %v, %v", c, err)
	}
	if c.Head != h2 || len(c.Descs) != 2 || c.ReadableLen() != 7 || c.WritableLen() != 9 || c.Descs[1].Addr != 0x50000 {
		t.Errorf("indirect chain: head %d, %+v", c.Head, c.Descs)
	}
	p.dev.Push(c.Head, 9)
	for _, want := range []virtiotest.Used{{ID: uint32(h1), Len: 513}, {ID: uint32(h2), Len: 9}} {
		u, ok, err := p.drv.PopUsed()
		if !ok || err != nil || u != want {
			t.Errorf("used = %+v (%v, %v), want %+v", u, ok, err, want)
		}
	}
}

// §2.7.7.2 / §2.7.10: without EVENT_IDX the driver suppresses interrupts
// with VIRTQ_AVAIL_F_NO_INTERRUPT; with it, the device interrupts when the
// used index moves past used_event.
func TestInterruptSuppression(t *testing.T) {
	p := newQueuePair(t, 8, 0)
	push := func() {
		t.Helper()
		p.drv.AddChain(virtiotest.Buffer{Addr: 0x10000, Len: 4, Write: true})
		c, err := p.dev.Pop()
		if err != nil || c == nil {
			t.Fatal(c, err)
		}
		p.dev.Push(c.Head, 0)
	}
	if need, _ := p.dev.NeedsInterrupt(); need {
		t.Error("interrupt with nothing used")
	}
	push()
	if need, _ := p.dev.NeedsInterrupt(); !need {
		t.Error("no interrupt with flags 0")
	}
	p.drv.SetAvailFlags(1)
	push()
	if need, _ := p.dev.NeedsInterrupt(); need {
		t.Error("interrupt despite VIRTQ_AVAIL_F_NO_INTERRUPT")
	}

	p = newQueuePair(t, 8, fEventIdx)
	p.drv.SetUsedEvent(2) // notify when entry 2 is used, i.e. used.idx becomes 3
	for i, want := range []bool{false, false, true, false} {
		push()
		if need, _ := p.dev.NeedsInterrupt(); need != want {
			t.Errorf("push %d (used.idx %d): interrupt %v, want %v", i, i+1, need, want)
		}
	}
	// Several entries at once: idx goes 4 -> 7 past used_event 5.
	p.drv.SetUsedEvent(5)
	push()
	push()
	push()
	if need, _ := p.dev.NeedsInterrupt(); !need {
		t.Error("no interrupt when a batch passed used_event")
	}
}

func TestEnableNotifyWritesAvailEvent(t *testing.T) {
	p := newQueuePair(t, 8, fEventIdx)
	p.drv.AddChain(virtiotest.Buffer{Addr: 0x10000, Len: 4})
	p.drv.AddChain(virtiotest.Buffer{Addr: 0x10000, Len: 4})
	p.dev.Pop()
	more, err := p.dev.EnableNotify()
	if err != nil || !more {
		t.Fatalf("EnableNotify = %v, %v; want more", more, err)
	}
	if ev, _ := p.drv.AvailEvent(); ev != 1 {
		t.Errorf("avail_event = %d, want 1", ev)
	}
	p.dev.Pop()
	more, _ = p.dev.EnableNotify()
	if ev, _ := p.drv.AvailEvent(); more || ev != 2 {
		t.Errorf("avail_event = %d more %v, want 2 false", ev, more)
	}
}

func TestSegmentsAndReadWriteAt(t *testing.T) {
	p := newQueuePair(t, 8, 0)
	p.mem.Write(0x10000, []byte("hello "))
	p.mem.Write(0x10100, []byte("world"))
	p.drv.AddChain(
		virtiotest.Buffer{Addr: 0x10000, Len: 6},
		virtiotest.Buffer{Addr: 0x20000, Len: 3, Write: true},
		virtiotest.Buffer{Addr: 0x10100, Len: 5},
		virtiotest.Buffer{Addr: 0x20100, Len: 4, Write: true},
	)
	c, _ := p.dev.Pop()
	got := make([]byte, 9)
	if err := c.ReadAt(got, 2); err != nil || string(got) != "llo world" {
		t.Errorf("ReadAt = %q, %v", got, err)
	}
	if err := c.ReadAt(make([]byte, 12), 0); err == nil {
		t.Error("ReadAt past the readable bytes succeeded")
	}
	if err := c.WriteAt([]byte("abcde"), 1); err != nil {
		t.Fatal(err)
	}
	w1 := make([]byte, 3)
	w2 := make([]byte, 4)
	p.mem.Read(0x20000, w1)
	p.mem.Read(0x20100, w2)
	if string(w1) != "\x00ab" || string(w2) != "cde\x00" {
		t.Errorf("written %q %q", w1, w2)
	}
}
