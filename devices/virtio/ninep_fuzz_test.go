package virtio_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
	"github.com/govmm/govmm/share"
)

// FuzzNinePMessages sends arbitrary bytes as one T-message, with a
// writable part of arbitrary size, to a virtio-9p device serving a
// read-only share. The device must not panic; it may break the queue only
// for a chain that cannot hold a header or Rlerror; otherwise every chain
// is answered, within the writable part, by a whole R-message under the
// request's tag. State (fids, msize) carries over between inputs.
func FuzzNinePMessages(f *testing.F) {
	s, err := share.New(f.TempDir(), true)
	if err != nil {
		f.Fatal(err)
	}
	dev, err := virtio.NewNineP("fuzz", s)
	if err != nil {
		f.Fatal(err)
	}
	kicked := make(chan struct{}, 1)
	dev.SetKick(func(int) {
		select {
		case kicked <- struct{}{}:
		default:
		}
	})
	dev.Activate(0)
	f.Cleanup(func() { dev.Close() })
	for _, m := range [][]byte{
		tversion(8192), tattach(1, 0), twalk(2, 0, 1), twalk(3, 0, 2, "x", "y"),
		tlopen(4, 1, 0), tread(5, 1, 0, 64), tgetattr(6, 0), tgetlock(7, 1),
		msg(108, 8).u16(5).done(),                            // Tflush
		msg(118, 9).u32(1).u64(0).u32(2).str("").done()[:25], // Twrite
		msg(40, 10).u32(1).u64(0).u32(512).done(),            // Treaddir
		{7, 0, 0, 0, 120, 1, 0},
	} {
		f.Add(m, uint16(4096))
	}
	f.Fuzz(func(t *testing.T, data []byte, writable uint16) {
		if len(data) == 0 || len(data) > 64<<10 {
			return
		}
		const in, out = 0x10000, 0x30000
		mem := virtiotest.NewMemory(1 << 20)
		drv, err := virtiotest.NewSplitQueue(mem, 0x1000, 16)
		if err != nil {
			t.Fatal(err)
		}
		mem.Write(in, data)
		drv.AddChain(virtiotest.Buffer{Addr: in, Len: uint32(len(data))}, virtiotest.Buffer{Addr: out, Len: uint32(writable), Write: true})
		q, err := virtio.NewQueue(mem, 16, drv.Desc, drv.Avail, drv.Used, 0)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for {
			if err := dev.Handle(0, q); err != nil {
				if len(data) >= 7 && writable >= 11 || !errors.Is(err, virtio.ErrNeedReadable) && !errors.Is(err, virtio.ErrNeedWritable) {
					t.Fatalf("queue broken: %v", err)
				}
				return
			}
			u, ok, err := drv.PopUsed()
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				checkNinePReply(t, mem, data, u, uint32(writable), out)
				return
			}
			select {
			case <-kicked:
			case <-deadline:
				t.Fatal("no answer")
			}
		}
	})
}

func checkNinePReply(t *testing.T, mem *memory.Memory, req []byte, u virtiotest.Used, writable uint32, out memory.GuestAddress) {
	t.Helper()
	if u.Len > writable || u.Len < 7 {
		t.Fatalf("used length %d, %d writable", u.Len, writable)
	}
	r := make([]byte, u.Len)
	mem.Read(out, r)
	size, typ, tag := reply(r)
	if size != u.Len {
		t.Fatalf("size field %d, used length %d", size, u.Len)
	}
	if want := binary.LittleEndian.Uint16(req[5:]); tag != want {
		t.Fatalf("reply tag %#x, request tag %#x", tag, want)
	}
	if typ != 7 && typ != req[4]+1 {
		t.Fatalf("reply type %d to request type %d", typ, req[4])
	}
}
