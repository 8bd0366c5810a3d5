package virtio

import (
	"encoding/binary"
	"errors"
)

// errIO marks a failed host I/O inside a Segments walk.
var errIO = errors.New("virtio-blk: host I/O failed")

// request serves one chain (virtio 1.2 §5.2.6): a 16-byte device-readable
// header, data, and a status byte, the last device-writable byte. It
// returns the number of bytes written to the guest (data plus status). A
// malformed request that still has a status byte gets VIRTIO_BLK_S_IOERR;
// one without any writable byte cannot be answered and breaks the queue.
func (b *Block) request(c *Chain) (uint32, error) {
	wl := c.WritableLen()
	if wl == 0 {
		return 0, ErrNeedWritable
	}
	statusOff := wl - 1
	var st byte
	var written uint64
	if err := c.ReadAt(b.hdr[:], 0); err != nil {
		st = BlockSIOErr // header missing or not device-readable
	} else {
		typ := binary.LittleEndian.Uint32(b.hdr[0:])
		sector := binary.LittleEndian.Uint64(b.hdr[8:])
		switch typ {
		case BlockTIn:
			st, written = b.read(c, sector, statusOff)
		case BlockTOut:
			st = b.write(c, sector)
		case BlockTFlush:
			st = b.flush()
		case BlockTGetID:
			st, written = b.getID(c, statusOff)
		default:
			st = BlockSUnsupp
		}
	}
	b.status[0] = st
	if err := c.WriteAt(b.status[:], statusOff); err != nil {
		return 0, err
	}
	// written <= WritableLen <= 2^32 * 32768 in theory; a guest cannot
	// exceed 4 GiB of RAM in one request in practice, but clamp anyway.
	return uint32(min(written+1, 1<<32-1)), nil
}

// inRange reports whether n bytes at sector lie inside the disk and are
// whole sectors (§5.2.6.1: data is a multiple of 512 bytes).
func (b *Block) inRange(sector, n uint64) bool {
	return n%SectorSize == 0 && sector <= b.capacity && n/SectorSize <= b.capacity-sector
}

// read serves VIRTIO_BLK_T_IN: the data buffers are the writable bytes
// before the status byte, and nothing but the header may be readable.
func (b *Block) read(c *Chain, sector, n uint64) (uint8, uint64) {
	if c.ReadableLen() != blockHeaderLen || !b.inRange(sector, n) {
		return BlockSIOErr, 0
	}
	off := int64(sector * SectorSize)
	var done uint64
	err := c.Segments(true, 0, n, func(seg []byte) error {
		m, err := b.f.ReadAt(seg, off)
		off += int64(m)
		done += uint64(m)
		if err != nil {
			return errIO // includes a short read: the image shrank
		}
		return nil
	})
	if err != nil {
		return BlockSIOErr, done
	}
	return BlockSOK, done
}

// write serves VIRTIO_BLK_T_OUT: the data is the readable bytes after the
// header, and the status byte must be the only writable byte. A read-only
// device answers IOERR and writes nothing (§5.2.6.2).
func (b *Block) write(c *Chain, sector uint64) uint8 {
	n := c.ReadableLen() - blockHeaderLen
	if b.readOnly || c.WritableLen() != 1 || !b.inRange(sector, n) {
		return BlockSIOErr
	}
	off := int64(sector * SectorSize)
	err := c.Segments(false, blockHeaderLen, n, func(seg []byte) error {
		m, err := b.f.WriteAt(seg, off)
		off += int64(m)
		if err != nil {
			return errIO
		}
		return nil
	})
	if err != nil {
		return BlockSIOErr
	}
	return BlockSOK
}

// flush serves VIRTIO_BLK_T_FLUSH with fsync.
func (b *Block) flush() uint8 {
	if err := b.f.Sync(); err != nil {
		return BlockSIOErr
	}
	return BlockSOK
}

// getID serves VIRTIO_BLK_T_GET_ID: up to 20 bytes of the ID string, not
// NUL-terminated when it is 20 bytes long (§5.2.6).
func (b *Block) getID(c *Chain, n uint64) (uint8, uint64) {
	if c.ReadableLen() != blockHeaderLen || n == 0 {
		return BlockSIOErr, 0
	}
	m := min(n, BlockIDLen)
	if err := c.WriteAt(b.id[:m], 0); err != nil {
		return BlockSIOErr, 0
	}
	return BlockSOK, m
}
