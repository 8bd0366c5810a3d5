package virtio_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
)

const fuzzMem = 64 << 10

// FuzzQueue feeds arbitrary descriptor tables and available rings to the
// queue parser: it must not panic or loop, and every chain it accepts must
// lie in RAM.
func FuzzQueue(f *testing.F) {
	// Seeds: a valid one-descriptor chain, a loop, an indirect table.
	seed := func(descs [][4]uint64, size uint8, heads ...uint16) []byte {
		b := make([]byte, 16*(1<<size)+4+2*(1<<size))
		for i, d := range descs {
			binary.LittleEndian.PutUint64(b[16*i:], d[0])
			binary.LittleEndian.PutUint32(b[16*i+8:], uint32(d[1]))
			binary.LittleEndian.PutUint16(b[16*i+12:], uint16(d[2]))
			binary.LittleEndian.PutUint16(b[16*i+14:], uint16(d[3]))
		}
		av := 16 * (1 << size)
		binary.LittleEndian.PutUint16(b[av+2:], uint16(len(heads)))
		for i, h := range heads {
			binary.LittleEndian.PutUint16(b[av+4+2*i:], h)
		}
		return b
	}
	f.Add(seed([][4]uint64{{0x8000, 64, 2, 0}}, 3, 0), uint8(3), uint8(3))
	f.Add(seed([][4]uint64{{0x8000, 64, 3, 1}, {0x8000, 64, 3, 0}}, 3, 0, 1), uint8(3), uint8(1))
	f.Add(seed([][4]uint64{{0x8000, 32, 4, 0}}, 2, 0), uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, sizeSel, featSel uint8) {
		buf := make([]byte, fuzzMem)
		copy(buf, data)
		mem, err := memory.New(memory.Region{Start: 0, Data: buf})
		if err != nil {
			t.Fatal(err)
		}
		size := uint16(1) << (sizeSel % 9) // 1..256
		var features uint64
		if featSel&1 != 0 {
			features |= virtio.FeatureIndirectDesc
		}
		if featSel&2 != 0 {
			features |= virtio.FeatureEventIdx
		}
		desc := memory.GuestAddress(0)
		avail := desc + memory.GuestAddress(16*uint64(size))
		used := (avail + memory.GuestAddress(6+2*uint64(size)) + 3) &^ 3
		q, err := virtio.NewQueue(mem, size, desc, avail, used, features)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i <= int(size)+1; i++ {
			c, err := q.Pop()
			if err != nil || c == nil {
				break
			}
			if len(c.Descs) > virtio.MaxQueueSize {
				t.Fatalf("chain of %d descriptors", len(c.Descs))
			}
			for _, d := range c.Descs {
				if !mem.Contains(d.Addr, uint64(d.Len)) {
					t.Fatalf("accepted descriptor outside RAM: %+v", d)
				}
			}
			if err := q.Push(c.Head, uint32(c.WritableLen())); err != nil {
				t.Fatal(err)
			}
			q.NeedsInterrupt()
			q.EnableNotify()
		}
	})
}

// FuzzBlockRequest sends arbitrary request headers and chain shapes to
// virtio-blk: no panic, and whenever the device answers, the status byte is
// one of the three defined values and the used length fits the chain.
func FuzzBlockRequest(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.img")
	if err := os.WriteFile(path, make([]byte, 16*512), 0o600); err != nil {
		f.Fatal(err)
	}
	dev, err := virtio.NewBlock(path, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { dev.Close() })
	f.Add(uint32(0), uint64(0), []byte{16, 0, 0, 2, 1, 1}) // IN: header, 512 data (2*256), status
	f.Add(uint32(1), uint64(15), []byte{16, 0, 0, 0, 2, 0, 1, 1})
	f.Add(uint32(4), uint64(0), []byte{16, 0, 1, 1})
	f.Add(uint32(8), uint64(0), []byte{16, 0, 20, 1, 1, 1})
	f.Add(uint32(77), uint64(1<<62), []byte{3, 1})
	f.Fuzz(func(t *testing.T, typ uint32, sector uint64, shape []byte) {
		const memSize = 1 << 20
		mem := virtiotest.NewMemory(memSize)
		drv, err := virtiotest.NewSplitQueue(mem, 0x1000, 16)
		if err != nil {
			t.Fatal(err)
		}
		var hdr [16]byte
		binary.LittleEndian.PutUint32(hdr[0:], typ)
		binary.LittleEndian.PutUint64(hdr[8:], sector)
		mem.Write(0x10000, hdr[:])
		// shape is (length/256 or 16 for the header, writable) pairs: the
		// first buffer holds the header bytes.
		var bufs []virtiotest.Buffer
		addr := memory.GuestAddress(0x10000)
		var writable uint64
		fits := true // every buffer in RAM
		for i := 0; i+1 < len(shape) && len(bufs) < 16; i += 2 {
			n := uint32(shape[i])
			if i > 0 {
				n *= 256
			}
			w := shape[i+1]&1 != 0
			bufs = append(bufs, virtiotest.Buffer{Addr: addr, Len: n, Write: w})
			if w {
				writable += uint64(n)
			}
			fits = fits && uint64(addr)+uint64(n) <= memSize
			addr += memory.GuestAddress(n) + 16
		}
		if len(bufs) == 0 {
			return
		}
		drv.AddChain(bufs...)
		q, err := virtio.NewQueue(mem, 16, drv.Desc, drv.Avail, drv.Used, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.Handle(0, q); err != nil {
			if writable != 0 && fits {
				t.Fatalf("request with %d writable bytes broke the queue: %v", writable, err)
			}
			return
		}
		u, ok, err := drv.PopUsed()
		if !ok || err != nil {
			t.Fatalf("no used element: %v", err)
		}
		if uint64(u.Len) > writable || u.Len == 0 {
			t.Fatalf("used length %d with %d writable bytes", u.Len, writable)
		}
		// The status byte is the last writable byte.
		var last virtiotest.Buffer
		for _, b := range bufs {
			if b.Write && b.Len > 0 {
				last = b
			}
		}
		st, _ := mem.Uint8(last.Addr + memory.GuestAddress(last.Len-1))
		if st > 2 {
			t.Fatalf("status %d", st)
		}
	})
}
