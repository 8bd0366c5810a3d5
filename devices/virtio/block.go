package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// virtio-blk feature bits (virtio 1.2 §5.2.3).
const (
	BlockFSegMax = 1 << 2
	BlockFRO     = 1 << 5
	BlockFFlush  = 1 << 9
)

// Request types and status values (virtio 1.2 §5.2.6).
const (
	BlockTIn    = 0
	BlockTOut   = 1
	BlockTFlush = 4
	BlockTGetID = 8

	BlockSOK     = 0
	BlockSIOErr  = 1
	BlockSUnsupp = 2
)

const (
	// SectorSize is the unit of capacity and of the request's sector
	// field, whatever the backing's block size (§5.2.4).
	SectorSize = 512
	// BlockIDLen is the size of the GET_ID answer (§5.2.6).
	BlockIDLen = 20
	// blockQueueSize is the request queue's maximum size.
	blockQueueSize = 256
	// blockConfigLen covers struct virtio_blk_config up to
	// max_discard_sectors; only capacity and seg_max mean anything here.
	blockConfigLen  = 0x3C
	blockHeaderLen  = 16
	blockConfigSeg  = 12
	blockConfigBlkS = 20
)

// BlockBacking is the store behind a Block: a raw image, sector 0 at
// offset 0. *os.File is the one govmm uses; tests wrap it to watch Sync.
// The Block calls it from the worker goroutine only, and Close after the
// worker has stopped.
type BlockBacking interface {
	io.ReaderAt
	io.WriterAt
	// Sync commits every completed WriteAt to stable storage, as fsync(2)
	// does; FLUSH completes only after it returns.
	Sync() error
	io.Closer
}

// Block is a virtio-blk device (virtio 1.2 §5.2) over a raw image file.
// Requests are served synchronously on the transport's worker goroutine,
// with pread/pwrite straight into and out of guest memory.
//
// The device has a volatile write cache, the host's page cache: it offers
// VIRTIO_BLK_F_FLUSH, an OUT completes once the data is in the page cache,
// and a FLUSH completes (status byte and used element written) only after
// Sync has returned, so the writes the guest saw complete before it are on
// stable storage.
type Block struct {
	// f is the image behind its flush policy; readOnly makes the device
	// offer VIRTIO_BLK_F_RO and fail writes. capacity is the size in
	// sectors, fixed at open. id is the GET_ID string, NUL-padded. All
	// immutable.
	f        *flushPolicy
	readOnly bool
	capacity uint64
	id       [BlockIDLen]byte
	config   [blockConfigLen]byte
	// hdr and status are scratch buffers for the worker.
	hdr    [blockHeaderLen]byte
	status [1]byte
}

// flushPolicy is the backing as the request code sees it: its Sync is what
// VIRTIO_BLK_T_FLUSH does (virtio 1.2 §5.2.6), and flush answers IOERR
// exactly when it fails. The worker calls it; Close after the worker.
//
// A read-only device syncs nothing and answers OK: it refuses every write
// (§5.2.6.2), so nothing it wrote can be waiting in the host's cache (QEMU
// likewise completes a flush of a read-only image at once).
//
// A failed Sync is final: every later FLUSH fails without trying again,
// and so does Close. After a writeback error Linux may drop the dirty
// pages, and a later fsync can succeed with the data lost (fsync(2),
// ERRORS); the guest must not be told that writes are durable when they
// may not be. QEMU's file-posix does the same.
type flushPolicy struct {
	BlockBacking
	readOnly bool
	// err is the first failed Sync.
	err error
}

// Sync implements the policy above.
func (p *flushPolicy) Sync() error {
	if p.readOnly {
		return nil
	}
	if p.err == nil {
		if err := p.BlockBacking.Sync(); err != nil {
			p.err = fmt.Errorf("virtio-blk: flush: %w", err)
		}
	}
	return p.err
}

// NewBlock opens the raw image at path (read-write unless readOnly). The
// device ID string (GET_ID) is the file's base name, cut to 20 bytes.
func NewBlock(path string, readOnly bool) (*Block, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("virtio-blk: %w", err)
	}
	b, err := NewBlockFile(f, readOnly, filepath.Base(path))
	if err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// NewBlockFile serves f, which the Block then owns (Close closes it). id is
// the GET_ID string; bytes past 20 are dropped. The capacity is f's size
// rounded down to whole sectors. The size is where a seek to the end lands,
// which is right for block devices too (their Stat size is 0).
func NewBlockFile(f *os.File, readOnly bool, id string) (*Block, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("virtio-blk: %s: size: %w", f.Name(), err)
	}
	return NewBlockBacking(f, size, readOnly, id)
}

// NewBlockBacking serves size bytes of f, which the Block then owns (Close
// syncs and closes it), as NewBlockFile does for an *os.File.
func NewBlockBacking(f BlockBacking, size int64, readOnly bool, id string) (*Block, error) {
	if size < 0 {
		return nil, errors.New("virtio-blk: negative image size")
	}
	b := &Block{f: &flushPolicy{BlockBacking: f, readOnly: readOnly}, readOnly: readOnly, capacity: uint64(size) / SectorSize}
	copy(b.id[:], id)
	binary.LittleEndian.PutUint64(b.config[0:], b.capacity)
	// Two descriptors go to the header and the status byte.
	binary.LittleEndian.PutUint32(b.config[blockConfigSeg:], blockQueueSize-2)
	binary.LittleEndian.PutUint32(b.config[blockConfigBlkS:], SectorSize)
	return b, nil
}

// Capacity is the disk size in 512-byte sectors.
func (b *Block) Capacity() uint64 { return b.capacity }

// Type implements Device.
func (b *Block) Type() uint16 { return DeviceIDBlock }

// Features implements Device.
func (b *Block) Features() uint64 {
	f := uint64(BlockFSegMax | BlockFFlush)
	if b.readOnly {
		f |= BlockFRO
	}
	return f
}

// QueueSizes implements Device: one request queue.
func (b *Block) QueueSizes() []uint16 { return []uint16{blockQueueSize} }

// ConfigSize implements Device.
func (b *Block) ConfigSize() uint64 { return blockConfigLen }

// ReadConfig implements Device.
func (b *Block) ReadConfig(off uint64, data []byte) {
	if off < blockConfigLen {
		copy(data, b.config[off:])
	}
}

// WriteConfig implements Device: nothing is writable without
// VIRTIO_BLK_F_CONFIG_WCE.
func (b *Block) WriteConfig(off uint64, data []byte) {}

// Activate implements Device.
func (b *Block) Activate(features uint64) {}

// Reset implements Device: requests are synchronous, so none is in flight.
func (b *Block) Reset() {}

// Handle implements Device: it serves every available request.
func (b *Block) Handle(i int, q *Queue) error {
	for {
		c, err := q.Pop()
		if err != nil || c == nil {
			return err
		}
		n, err := b.request(c)
		if err != nil {
			return err
		}
		if err := q.Push(c.Head, n); err != nil {
			return err
		}
	}
}

// Close flushes the image to stable storage (unless read-only) and closes
// it. A Sync that failed during the run is reported even if this one would
// succeed (see flushPolicy).
func (b *Block) Close() error {
	err := b.f.Sync()
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	return err
}
