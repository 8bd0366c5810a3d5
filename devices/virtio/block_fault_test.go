package virtio_test

import (
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
)

// faultyFile is a disk image whose writes and syncs start failing with a
// chosen errno while the guest runs: a disk that fills up (ENOSPC) or
// goes bad (EIO) under the device.
type faultyFile struct {
	*os.File
	// writeErr and syncErr, when not zero, fail WriteAt and Sync.
	writeErr, syncErr atomic.Uintptr
}

func (f *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	if e := f.writeErr.Load(); e != 0 {
		return 0, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.Errno(e)}
	}
	return f.File.WriteAt(p, off)
}

func (f *faultyFile) Sync() error {
	if e := f.syncErr.Load(); e != 0 {
		return &os.PathError{Op: "fsync", Path: f.Name(), Err: syscall.Errno(e)}
	}
	return f.File.Sync()
}

// TestBlockDiskFailsMidRun: when the image becomes unwritable while the
// guest runs, each failing OUT and FLUSH gets VIRTIO_BLK_S_IOERR (virtio
// 1.2 §5.2.6: the device reports the error in the status byte), reads
// still work, and the queue never breaks (no DEVICE_NEEDS_RESET). Once
// the disk recovers, writes succeed again, but FLUSH keeps failing: after
// a failed fsync the host may have dropped dirty pages, so the device
// never again claims the writes are durable (flushPolicy).
func TestBlockDiskFailsMidRun(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			f, err := os.OpenFile(makeImage(t), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			ff := &faultyFile{File: f}
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			dev, err := virtio.NewBlockBacking(ff, st.Size(), false, "faulty")
			if err != nil {
				t.Fatal(err)
			}
			b := startBlock(t, dev, fVersion1|1<<9) // VIRTIO_BLK_F_FLUSH
			src := b.Buf(512, 0x5a)
			out := virtiotest.Buffer{Addr: src, Len: 512}
			if n, s := b.do(t, tOut, 3, out); s != sOK || n != 1 {
				t.Fatalf("OUT before the fault: status %d used %d", s, n)
			}
			ff.writeErr.Store(uintptr(errno))
			ff.syncErr.Store(uintptr(errno))
			for i := range 3 {
				if n, s := b.do(t, tOut, uint64(4+i), out); s != sIOErr || n != 1 {
					t.Fatalf("OUT %d during the fault: status %d used %d, want IOERR", i, s, n)
				}
			}
			if n, s := b.do(t, tFlush, 0); s != sIOErr || n != 1 {
				t.Fatalf("FLUSH during the fault: status %d used %d, want IOERR", s, n)
			}
			dst := b.Buf(512, 0)
			if n, s := b.do(t, tIn, 3, virtiotest.Buffer{Addr: dst, Len: 512, Write: true}); s != sOK || n != 513 {
				t.Fatalf("IN during the fault: status %d used %d", s, n)
			}
			if got := b.Bytes(dst, 512); got[0] != 0x5a || got[511] != 0x5a {
				t.Fatalf("IN during the fault read % x..., want the sector written before", got[:4])
			}
			ff.writeErr.Store(0)
			ff.syncErr.Store(0)
			if n, s := b.do(t, tOut, 4, out); s != sOK || n != 1 {
				t.Fatalf("OUT after recovery: status %d used %d", s, n)
			}
			if n, s := b.do(t, tFlush, 0); s != sIOErr || n != 1 {
				t.Fatalf("FLUSH after recovery: status %d used %d, want IOERR (a failed fsync is final)", s, n)
			}
			if b.D.Status()&0x40 != 0 {
				t.Fatal("a host I/O error set DEVICE_NEEDS_RESET")
			}
		})
	}
}
