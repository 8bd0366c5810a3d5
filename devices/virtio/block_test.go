package virtio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
)

// virtio 1.2 §5.2.6 values, as numbers.
const (
	tIn     = 0
	tOut    = 1
	tFlush  = 4
	tGetID  = 8
	tDisc   = 11
	sOK     = 0
	sIOErr  = 1
	sUnsupp = 2
)

const testSectors = 64

// sectorFill is the byte image sector s holds before any write.
func sectorFill(s int) byte { return byte(0x40 + s) }

func makeImage(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	img := make([]byte, testSectors*512)
	for s := 0; s < testSectors; s++ {
		for i := 0; i < 512; i++ {
			img[s*512+i] = sectorFill(s)
		}
	}
	if err := os.WriteFile(p, img, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type blockEnv struct {
	*virtiotest.Env
	q    *virtiotest.SplitQueue
	path string
}

func startBlock(t *testing.T, dev *virtio.Block, features uint64) *blockEnv {
	t.Helper()
	e := newEnv(t, dev)
	q := e.NewQueue(16)
	if err := e.Start(features, q); err != nil {
		t.Fatal(err)
	}
	return &blockEnv{Env: e, q: q}
}

func newBlockEnv(t *testing.T, readOnly bool) *blockEnv {
	t.Helper()
	p := makeImage(t)
	dev, err := virtio.NewBlock(p, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	b := startBlock(t, dev, fVersion1)
	b.path = p
	return b
}

// header lays out a request header (§5.2.6: le32 type, le32 reserved, le64
// sector) in fresh guest memory.
func (b *blockEnv) header(typ uint32, sector uint64) memory.GuestAddress {
	a := b.Buf(16, 0)
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint64(h[8:], sector)
	b.Mem.Write(a, h[:])
	return a
}

// do submits header + data + status and returns the used length and the
// status byte.
func (b *blockEnv) do(t *testing.T, typ uint32, sector uint64, data ...virtiotest.Buffer) (uint32, byte) {
	t.Helper()
	st := b.Buf(1, 0xEE)
	bufs := append([]virtiotest.Buffer{{Addr: b.header(typ, sector), Len: 16}}, data...)
	bufs = append(bufs, virtiotest.Buffer{Addr: st, Len: 1, Write: true})
	if _, err := b.q.AddChain(bufs...); err != nil {
		t.Fatal(err)
	}
	u, err := b.Submit(0, b.q)
	if err != nil {
		t.Fatal(err)
	}
	return u.Len, b.Bytes(st, 1)[0]
}

func fileBytes(t *testing.T, path string, off, n int) []byte {
	t.Helper()
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return img[off : off+n]
}

func TestBlockConfigAndFeatures(t *testing.T) {
	b := newBlockEnv(t, false)
	// §5.2.4: capacity (le64) at offset 0, in 512-byte sectors.
	if got := b.D.Read(b.D.DeviceCfg, 8); got != testSectors {
		t.Errorf("capacity = %d, want %d", got, testSectors)
	}
	if got := b.D.Read(b.D.DeviceCfg+12, 4); got == 0 {
		t.Error("seg_max = 0")
	}
	f := b.D.DeviceFeatures()
	if f&(1<<9) == 0 { // VIRTIO_BLK_F_FLUSH
		t.Errorf("features %#x lack FLUSH", f)
	}
	if f&(1<<5) != 0 {
		t.Errorf("read-write disk offers RO: %#x", f)
	}
	ro := newBlockEnv(t, true)
	if f := ro.D.DeviceFeatures(); f&(1<<5) == 0 {
		t.Errorf("read-only disk lacks VIRTIO_BLK_F_RO: %#x", f)
	}
}

func TestBlockWriteThenRead(t *testing.T) {
	b := newBlockEnv(t, false)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1024 bytes = 2 sectors
	src := b.Buf(1024, 0)
	b.Mem.Write(src, data)
	// OUT: header, 2 sectors split over two readable buffers, status.
	n, st := b.do(t, tOut, 3,
		virtiotest.Buffer{Addr: src, Len: 700},
		virtiotest.Buffer{Addr: src + 700, Len: 324})
	if st != sOK || n != 1 {
		t.Fatalf("OUT: status %d used %d, want 0 and 1", st, n)
	}
	if got := fileBytes(t, b.path, 3*512, 1024); !bytes.Equal(got, data) {
		t.Fatal("OUT data not in the image")
	}
	if got := fileBytes(t, b.path, 5*512, 1); got[0] != sectorFill(5) {
		t.Fatal("OUT wrote past its sectors")
	}
	// IN of sectors 2..5 into two writable buffers.
	dst := b.Buf(2048, 0)
	n, st = b.do(t, tIn, 2,
		virtiotest.Buffer{Addr: dst, Len: 1000, Write: true},
		virtiotest.Buffer{Addr: dst + 1000, Len: 1048, Write: true})
	if st != sOK || n != 2048+1 {
		t.Fatalf("IN: status %d used %d, want 0 and 2049", st, n)
	}
	got := b.Bytes(dst, 2048)
	want := append(append(bytes.Repeat([]byte{sectorFill(2)}, 512), data...), bytes.Repeat([]byte{sectorFill(5)}, 512)...)
	if !bytes.Equal(got, want) {
		t.Fatal("IN data differs from the image")
	}
}

func TestBlockIndirectRequest(t *testing.T) {
	p := makeImage(t)
	dev, err := virtio.NewBlock(p, false)
	if err != nil {
		t.Fatal(err)
	}
	b := startBlock(t, dev, fVersion1|fIndirect)
	dst := b.Buf(512, 0)
	st := b.Buf(1, 0xEE)
	table := b.Alloc.Alloc(3*16, 16)
	b.q.AddIndirect(table,
		virtiotest.Buffer{Addr: b.header(tIn, 7), Len: 16},
		virtiotest.Buffer{Addr: dst, Len: 512, Write: true},
		virtiotest.Buffer{Addr: st, Len: 1, Write: true})
	u, err := b.Submit(0, b.q)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len != 513 || b.Bytes(st, 1)[0] != sOK || b.Bytes(dst, 1)[0] != sectorFill(7) {
		t.Fatalf("indirect IN: used %+v status %d", u, b.Bytes(st, 1)[0])
	}
}

func TestBlockFlushGetIDUnsupported(t *testing.T) {
	b := newBlockEnv(t, false)
	if n, st := b.do(t, tFlush, 0); st != sOK || n != 1 {
		t.Errorf("FLUSH: status %d used %d", st, n)
	}
	id := b.Buf(20, 0xFF)
	n, st := b.do(t, tGetID, 0, virtiotest.Buffer{Addr: id, Len: 20, Write: true})
	want := append([]byte("disk.img"), make([]byte, 12)...)
	if st != sOK || n != 21 || !bytes.Equal(b.Bytes(id, 20), want) {
		t.Errorf("GET_ID: status %d used %d id %q", st, n, b.Bytes(id, 20))
	}
	for _, typ := range []uint32{tDisc, 99} {
		if n, st := b.do(t, typ, 0); st != sUnsupp || n != 1 {
			t.Errorf("type %d: status %d used %d, want UNSUPP(2) and 1", typ, st, n)
		}
	}
}

func TestBlockGetIDLong(t *testing.T) {
	f, err := os.Open(makeImage(t))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := virtio.NewBlockFile(f, true, "serial-0123456789-ABCDEFGH")
	if err != nil {
		t.Fatal(err)
	}
	b := startBlock(t, dev, fVersion1)
	id := b.Buf(32, 0xFF)
	n, st := b.do(t, tGetID, 0, virtiotest.Buffer{Addr: id, Len: 32, Write: true})
	// 20 bytes, no NUL terminator when the string fills them (§5.2.6).
	if st != sOK || n != 21 || string(b.Bytes(id, 21)) != "serial-0123456789-AB\xff" {
		t.Errorf("GET_ID: status %d used %d id %q", st, n, b.Bytes(id, 21))
	}
}

func TestBlockReadOnly(t *testing.T) {
	b := newBlockEnv(t, true)
	src := b.Buf(512, 0x11)
	// §5.2.6.2: a read-only device answers a write with IOERR and writes nothing.
	if n, st := b.do(t, tOut, 0, virtiotest.Buffer{Addr: src, Len: 512}); st != sIOErr || n != 1 {
		t.Errorf("OUT on RO: status %d used %d, want IOERR(1)", st, n)
	}
	if got := fileBytes(t, b.path, 0, 1); got[0] != sectorFill(0) {
		t.Error("read-only image modified")
	}
	dst := b.Buf(512, 0)
	if n, st := b.do(t, tIn, 1, virtiotest.Buffer{Addr: dst, Len: 512, Write: true}); st != sOK || n != 513 {
		t.Errorf("IN on RO: status %d used %d", st, n)
	}
}

func TestBlockOutOfRangeAndMalformed(t *testing.T) {
	b := newBlockEnv(t, false)
	dst := b.Buf(1024, 0x77)
	src := b.Buf(1024, 0xC3)
	cases := []struct {
		name   string
		typ    uint32
		sector uint64
		data   []virtiotest.Buffer
	}{
		{"IN at capacity", tIn, testSectors, []virtiotest.Buffer{{Addr: dst, Len: 512, Write: true}}},
		{"IN across the end", tIn, testSectors - 1, []virtiotest.Buffer{{Addr: dst, Len: 1024, Write: true}}},
		{"IN at sector 2^63", tIn, 1 << 63, []virtiotest.Buffer{{Addr: dst, Len: 512, Write: true}}},
		{"IN at sector 2^64-1", tIn, ^uint64(0), []virtiotest.Buffer{{Addr: dst, Len: 512, Write: true}}},
		{"OUT across the end", tOut, testSectors - 1, []virtiotest.Buffer{{Addr: src, Len: 1024}}},
		{"IN not whole sectors", tIn, 0, []virtiotest.Buffer{{Addr: dst, Len: 100, Write: true}}},
		{"OUT not whole sectors", tOut, 0, []virtiotest.Buffer{{Addr: src, Len: 513}}},
		// The device must write the data but the driver gave a
		// device-readable buffer.
		{"IN into a readable buffer", tIn, 0, []virtiotest.Buffer{{Addr: dst, Len: 512}}},
		// The device must read the data but the driver gave a
		// device-writable buffer.
		{"OUT from a writable buffer", tOut, 0, []virtiotest.Buffer{{Addr: src, Len: 512, Write: true}}},
		{"GET_ID without a buffer", tGetID, 0, nil},
	}
	for _, c := range cases {
		if n, st := b.do(t, c.typ, c.sector, c.data...); st != sIOErr || n != 1 {
			t.Errorf("%s: status %d used %d, want IOERR(1) and 1", c.name, st, n)
		}
	}
	if got := b.Bytes(dst, 1024); !bytes.Equal(got, bytes.Repeat([]byte{0x77}, 1024)) {
		t.Error("a failed IN wrote guest memory")
	}
	img, _ := os.ReadFile(b.path)
	if bytes.Contains(img, []byte{0xC3}) {
		t.Error("a failed OUT wrote the image")
	}
	// Header in a device-writable buffer: the device needs it readable.
	st := b.Buf(1, 0xEE)
	b.q.AddChain(virtiotest.Buffer{Addr: b.header(tIn, 0), Len: 16, Write: true}, virtiotest.Buffer{Addr: st, Len: 1, Write: true})
	if u, err := b.Submit(0, b.q); err != nil || b.Bytes(st, 1)[0] != sIOErr || u.Len != 1 {
		t.Errorf("writable header: used %+v status %d err %v", u, b.Bytes(st, 1)[0], err)
	}
	if b.D.Status()&0x40 != 0 {
		t.Error("request errors set DEVICE_NEEDS_RESET")
	}
}

func TestBlockHostIOError(t *testing.T) {
	p := makeImage(t)
	// A read-write device over a file opened read-only: pwrite fails.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := virtio.NewBlockFile(f, false, "x")
	if err != nil {
		t.Fatal(err)
	}
	b := startBlock(t, dev, fVersion1)
	src := b.Buf(512, 0x99)
	if n, st := b.do(t, tOut, 0, virtiotest.Buffer{Addr: src, Len: 512}); st != sIOErr || n != 1 {
		t.Errorf("failed pwrite: status %d used %d", st, n)
	}
	// A file opened write-only: pread fails.
	f2, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	dev2, err := virtio.NewBlockFile(f2, false, "y")
	if err != nil {
		t.Fatal(err)
	}
	b2 := startBlock(t, dev2, fVersion1)
	dst := b2.Buf(512, 0)
	if n, st := b2.do(t, tIn, 0, virtiotest.Buffer{Addr: dst, Len: 512, Write: true}); st != sIOErr || n != 1 {
		t.Errorf("failed pread: status %d used %d", st, n)
	}
	// And the device keeps serving.
	if n, st := b2.do(t, tOut, 0, virtiotest.Buffer{Addr: dst, Len: 512}); st != sOK || n != 1 {
		t.Errorf("OUT after error: status %d used %d", st, n)
	}
}

func TestBlockNoStatusByteBreaksQueue(t *testing.T) {
	b := newBlockEnv(t, false)
	b.q.AddChain(virtiotest.Buffer{Addr: b.header(tFlush, 0), Len: 16})
	b.D.Kick(0)
	if err := b.WaitConfig(); err != nil {
		t.Fatal(err)
	}
	if b.D.Status()&0x40 == 0 || !errors.Is(b.T.Err(), virtio.ErrNeedWritable) {
		t.Errorf("status %#x err %v", b.D.Status(), b.T.Err())
	}
}

// Write known blocks through the device, FLUSH, close, and read the file
// again from a fresh descriptor.
func TestBlockDurabilityInProcess(t *testing.T) {
	b := newBlockEnv(t, false)
	want := writeKnownBlocks(t, b)
	if n, st := b.do(t, tFlush, 0); st != sOK || n != 1 {
		t.Fatalf("FLUSH: %d %d", st, n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	checkKnownBlocks(t, b.path, want)
}

// writeKnownBlocks writes sectors 10..17 with a recognisable pattern.
func writeKnownBlocks(t *testing.T, b *blockEnv) []byte {
	t.Helper()
	want := make([]byte, 8*512)
	for i := range want {
		want[i] = byte(i*7 + i/512)
	}
	src := b.Buf(uint64(len(want)), 0)
	b.Mem.Write(src, want)
	if n, st := b.do(t, tOut, 10, virtiotest.Buffer{Addr: src, Len: uint32(len(want))}); st != sOK || n != 1 {
		t.Fatalf("OUT: status %d used %d", st, n)
	}
	return want
}

func checkKnownBlocks(t *testing.T, path string, want []byte) {
	t.Helper()
	if got := fileBytes(t, path, 10*512, len(want)); !bytes.Equal(got, want) {
		t.Fatal("blocks not in the image after flush")
	}
	if got := fileBytes(t, path, 18*512, 1); got[0] != sectorFill(18) {
		t.Fatal("neighbouring sector changed")
	}
}

// Several requests made available before one kick are all served, in order.
func TestBlockBatch(t *testing.T) {
	b := newBlockEnv(t, false)
	const n = 5
	var dst, st [n]memory.GuestAddress
	var heads [n]uint16
	for i := 0; i < n; i++ {
		dst[i] = b.Buf(512, 0)
		st[i] = b.Buf(1, 0xEE)
		h, err := b.q.AddChain(
			virtiotest.Buffer{Addr: b.header(tIn, uint64(i)), Len: 16},
			virtiotest.Buffer{Addr: dst[i], Len: 512, Write: true},
			virtiotest.Buffer{Addr: st[i], Len: 1, Write: true})
		if err != nil {
			t.Fatal(err)
		}
		heads[i] = h
	}
	// One kick, one round: the worker drains the ring, then interrupts once.
	b.D.Kick(0)
	if err := b.WaitQueue(0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		u, ok, err := b.q.PopUsed()
		if err != nil || !ok {
			t.Fatalf("used %d of %d missing: %v", i, n, err)
		}
		if u.ID != uint32(heads[i]) || u.Len != 513 {
			t.Errorf("used %d = %+v, want head %d len 513", i, u, heads[i])
		}
		if b.Bytes(st[i], 1)[0] != sOK || b.Bytes(dst[i], 1)[0] != sectorFill(i) {
			t.Errorf("request %d: status %d data %#x", i, b.Bytes(st[i], 1)[0], b.Bytes(dst[i], 1)[0])
		}
	}
}
