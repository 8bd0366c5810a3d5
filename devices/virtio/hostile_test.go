package virtio_test

import (
	"errors"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
)

// Descriptor flag values from virtio 1.2 §2.7.5.
const (
	dNext     = 1
	dWrite    = 2
	dIndirect = 4
)

// hostileCase builds a bad chain on the driver queue (size 8) and says
// which error the device must report.
type hostileCase struct {
	name     string
	features uint64
	build    func(e *virtiotest.Env, q *virtiotest.SplitQueue)
	want     []error // any of these
}

func publishRaw(q *virtiotest.SplitQueue, descs ...[4]uint64) {
	for i, d := range descs {
		q.WriteDesc(uint16(i), d[0], uint32(d[1]), uint16(d[2]), uint16(d[3]))
	}
	q.Publish(0)
}

func hostileCases() []hostileCase {
	buf := uint64(0x200000) // inside RAM, clear of the queue
	return []hostileCase{
		{name: "two-descriptor loop", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{buf, 16, dWrite | dNext, 1}, [4]uint64{buf, 16, dWrite | dNext, 0})
		}, want: []error{virtio.ErrChainTooLong}},
		{name: "self loop", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{buf, 16, dWrite | dNext, 0})
		}, want: []error{virtio.ErrChainTooLong}},
		{name: "chain longer than the queue", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			var d [][4]uint64
			for i := 0; i < 8; i++ {
				d = append(d, [4]uint64{buf, 16, dWrite | dNext, uint64(i+1) % 8})
			}
			publishRaw(q, d...)
		}, want: []error{virtio.ErrChainTooLong}},
		{name: "next index beyond the queue", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{buf, 16, dWrite | dNext, 8})
		}, want: []error{virtio.ErrDescIndex}},
		{name: "head index beyond the queue", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			q.Publish(1000)
		}, want: []error{virtio.ErrDescIndex}},
		{name: "available index jumps", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			q.SetAvailIdx(9)
		}, want: []error{virtio.ErrAvailIndex}},
		{name: "address outside RAM", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{virtiotest.MemSize, 16, dWrite, 0})
		}, want: []error{virtio.ErrDescRange}},
		{name: "buffer straddles the end of RAM", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{virtiotest.MemSize - 8, 16, dWrite, 0})
		}, want: []error{virtio.ErrDescRange}},
		{name: "length wraps the address space", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{0xFFFF_FFFF_FFFF_F000, 0x2000, dWrite, 0})
		}, want: []error{virtio.ErrDescWraps}},
		{name: "device-readable buffer where the device must write", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{buf, 64, 0, 0})
		}, want: []error{virtio.ErrNeedWritable}},
		{name: "indirect table length not a multiple of 16", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{buf, 24, dIndirect, 0})
		}, want: []error{virtio.ErrIndirectLen}},
		{name: "empty indirect table", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{buf, 0, dIndirect, 0})
		}, want: []error{virtio.ErrIndirectLen}},
		{name: "indirect table outside RAM", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{virtiotest.MemSize - 16, 32, dIndirect, 0})
		}, want: []error{virtio.ErrDescRange}},
		{name: "indirect table too large", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			publishRaw(q, [4]uint64{0x100000, 16 * 40000, dIndirect, 0})
		}, want: []error{virtio.ErrIndirectLen}},
		{name: "nested indirect", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			virtiotest.WriteDescAt(e.Mem, 0x200000, 0x200100, 16, dIndirect, 0)
			publishRaw(q, [4]uint64{0x200000, 16, dIndirect, 0})
		}, want: []error{virtio.ErrNestedIndirect}},
		{name: "indirect with NEXT", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			virtiotest.WriteDescAt(e.Mem, 0x200000, 0x200100, 16, dWrite, 0)
			publishRaw(q, [4]uint64{0x200000, 16, dIndirect | dNext, 1}, [4]uint64{buf, 16, dWrite, 0})
		}, want: []error{virtio.ErrIndirectNext}},
		{name: "loop inside an indirect table", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			for i := 0; i < 4; i++ {
				virtiotest.WriteDescAt(e.Mem, memory.GuestAddress(0x200000+16*i), buf+0x1000, 16, dWrite|dNext, uint16(i+1)%4)
			}
			publishRaw(q, [4]uint64{0x200000, 64, dIndirect, 0})
		}, want: []error{virtio.ErrChainTooLong}},
		{name: "indirect next beyond the table", build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			virtiotest.WriteDescAt(e.Mem, 0x200000, buf+0x1000, 16, dWrite|dNext, 1)
			publishRaw(q, [4]uint64{0x200000, 16, dIndirect, 0})
		}, want: []error{virtio.ErrDescIndex}},
		{name: "indirect without the feature", features: fVersion1, build: func(e *virtiotest.Env, q *virtiotest.SplitQueue) {
			virtiotest.WriteDescAt(e.Mem, 0x200000, buf+0x1000, 16, dWrite, 0)
			publishRaw(q, [4]uint64{0x200000, 16, dIndirect, 0})
		}, want: []error{virtio.ErrIndirectDisabled}},
	}
}

// Every hostile chain ends with DEVICE_NEEDS_RESET and a configuration
// interrupt, quickly; after a reset the device works again.
func TestHostileChains(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			features := c.features
			if features == 0 {
				features = fVersion1 | fIndirect | fEventIdx
			}
			start := time.Now()
			e, q := startRNG(t, features, 8)
			c.build(e, q)
			e.D.Kick(0)
			if err := e.WaitConfig(); err != nil {
				t.Fatalf("no configuration interrupt: %v (device error %v)", err, e.T.Err())
			}
			if st := e.D.Status(); st&0x40 == 0 {
				t.Fatalf("status %#x without DEVICE_NEEDS_RESET", st)
			}
			err := e.T.Err()
			ok := false
			for _, w := range c.want {
				ok = ok || errors.Is(err, w)
			}
			if !ok {
				t.Errorf("device error %v, want one of %v", err, c.want)
			}
			// A further kick on the broken queue is ignored, not a hang.
			e.D.Kick(0)

			// Recovery: reset, set up again, and serve a good request.
			q2 := e.NewQueue(8)
			if err := e.Start(fVersion1, q2); err != nil {
				t.Fatal(err)
			}
			if st := e.D.Status(); st&0x40 != 0 {
				t.Fatalf("NEEDS_RESET survived the reset: %#x", st)
			}
			a := e.Buf(16, 0)
			q2.AddChain(virtiotest.Buffer{Addr: a, Len: 16, Write: true})
			if u, err := e.Submit(0, q2); err != nil || u.Len != 16 {
				t.Fatalf("after reset: %+v %v", u, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// The configuration interrupt also works without MSI-X: ISR bit 1.
func TestHostileChainINTx(t *testing.T) {
	e := newEnv(t, virtio.NewRNG())
	q := e.NewQueue(8)
	if err := e.D.Init(virtiotest.InitOptions{Features: fVersion1, Queues: []*virtiotest.SplitQueue{q}}); err != nil {
		t.Fatal(err)
	}
	publishRaw(q, [4]uint64{0x200000, 16, dWrite | dNext, 0})
	e.D.Kick(0)
	if err := e.IRQ.WaitHigh(virtiotest.Timeout); err != nil {
		t.Fatal(err)
	}
	if isr := e.D.ReadISR(); isr != 2 {
		t.Errorf("ISR = %#x, want 2 (configuration change)", isr)
	}
}
