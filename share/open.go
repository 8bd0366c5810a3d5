package share

import (
	"encoding/binary"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// 9P2000.L open flags beyond the access mode that the server honours
// (Linux include/net/9p/9p.h, P9_DOTL_*). O_APPEND is left out: writes
// carry their offset and pwrite(2) would ignore it.
const (
	dotlTrunc = 0o1000
	dotlDsync = 0o10000
	dotlSync  = 0o4000000
)

// maxDirentBuf bounds the getdents64 buffer of one Readdir.
const maxDirentBuf = 64 << 10

// Open implements p9.File: it reopens the inode through /proc/self/fd, so
// the descriptor is for the very inode walked to. Only regular files and
// directories open: a FIFO or device node would block or reach host
// devices (a Linux guest opens those itself, without Tlopen).
func (f *file) Open(mode p9.OpenFlags) (p9.QID, uint32, error) {
	flags := unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK
	switch mode & p9.OpenFlagsModeMask {
	case p9.ReadOnly:
		flags |= unix.O_RDONLY
	case p9.WriteOnly:
		flags |= unix.O_WRONLY
	case p9.ReadWrite:
		flags |= unix.O_RDWR
	default:
		return p9.QID{}, 0, linux.EINVAL
	}
	if mode&dotlTrunc != 0 {
		flags |= unix.O_TRUNC
	}
	if mode&dotlDsync != 0 {
		flags |= unix.O_DSYNC
	}
	if mode&dotlSync != 0 {
		flags |= unix.O_SYNC
	}
	if flags&(unix.O_WRONLY|unix.O_RDWR|unix.O_TRUNC) != 0 {
		if err := f.writable(); err != nil {
			return p9.QID{}, 0, err
		}
	}
	switch {
	case f.isDir():
		if flags&(unix.O_WRONLY|unix.O_RDWR|unix.O_TRUNC) != 0 {
			return p9.QID{}, 0, linux.EISDIR
		}
		flags |= unix.O_DIRECTORY
	case f.isRegular():
	default:
		return p9.QID{}, 0, linux.EPERM
	}
	fd, err := f.reopen(flags)
	if err != nil {
		return p9.QID{}, 0, err
	}
	f.mu.Lock()
	if f.openFD >= 0 {
		f.mu.Unlock()
		unix.Close(fd)
		return p9.QID{}, 0, linux.EBUSY
	}
	f.openFD = fd
	f.mu.Unlock()
	qid, _, _, err := f.GetAttr(p9.AttrMask{})
	return qid, 0, err
}

// reopen opens f's inode (not a symlink) with flags.
func (f *file) reopen(flags int) (int, error) {
	for {
		fd, err := unix.Openat(f.s.procFD, procName(f.fd), flags, 0)
		if err == unix.EINTR {
			continue
		}
		return fd, errno(err)
	}
}

// opened returns the descriptor Open made.
func (f *file) opened() (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openFD < 0 {
		return -1, linux.EBADF
	}
	return f.openFD, nil
}

// ReadAt implements p9.File with pread(2); a short count is not an error.
func (f *file) ReadAt(p []byte, offset int64) (int, error) {
	fd, err := f.opened()
	if err != nil {
		return 0, err
	}
	for {
		n, err := unix.Pread(fd, p, offset)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, errno(err)
		}
		return n, nil
	}
}

// WriteAt implements p9.File with pwrite(2).
func (f *file) WriteAt(p []byte, offset int64) (int, error) {
	if err := f.writable(); err != nil {
		return 0, err
	}
	fd, err := f.opened()
	if err != nil {
		return 0, err
	}
	done := 0
	for done < len(p) {
		n, err := unix.Pwrite(fd, p[done:], offset+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, errno(err)
		}
		if n == 0 {
			break
		}
		done += n
	}
	return done, nil
}

// FSync implements p9.File.
func (f *file) FSync() error {
	fd, err := f.opened()
	if err != nil {
		return err
	}
	return errno(unix.Fsync(fd))
}

// Readdir implements p9.File. offset is 0 or the Offset of the last entry
// of an earlier call: the host's getdents64 d_off, a position lseek(2)
// accepts. count is the reply's byte budget; the server trims what does
// not fit. Dirent.Type carries the Linux DT_* value, which is what the
// Linux client passes on as d_type (as QEMU does), not a QID type.
func (f *file) Readdir(offset uint64, count uint32) (p9.Dirents, error) {
	if !f.isDir() {
		return nil, linux.ENOTDIR
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openFD < 0 {
		return nil, linux.EBADF
	}
	if f.opaque {
		return nil, nil
	}
	if offset > 1<<63-1 {
		return nil, linux.EINVAL
	}
	if _, err := unix.Seek(f.openFD, int64(offset), unix.SEEK_SET); err != nil {
		return nil, errno(err)
	}
	buf := make([]byte, min(max(int(count), 512), maxDirentBuf))
	n, err := unix.Getdents(f.openFD, buf)
	if err != nil {
		return nil, errno(err)
	}
	return f.parseDirents(buf[:n], count), nil
}

// parseDirents decodes struct linux_dirent64 records (d_ino[8] d_off[8]
// d_reclen[2] d_type[1] d_name[]) until the 9P encoding (qid[13]
// offset[8] type[1] name[s]) would pass count bytes.
func (f *file) parseDirents(b []byte, count uint32) p9.Dirents {
	var out p9.Dirents
	used := 0
	for len(b) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(b[16:]))
		if reclen < 19 || reclen > len(b) {
			break
		}
		ino := binary.NativeEndian.Uint64(b[0:])
		off := binary.NativeEndian.Uint64(b[8:])
		typ := b[18]
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		b = b[reclen:]
		used += 24 + len(name)
		if used > int(count) && len(out) > 0 {
			break
		}
		out = append(out, p9.Dirent{
			QID:    p9.QID{Type: dtQIDType(typ), Path: f.s.qids.path(f.dev, ino)},
			Offset: off,
			Type:   p9.QIDType(typ),
			Name:   string(name),
		})
	}
	return out
}

// dtQIDType maps a DT_* value to the QID type.
func dtQIDType(dt byte) p9.QIDType {
	switch dt {
	case unix.DT_DIR:
		return p9.TypeDir
	case unix.DT_LNK:
		return p9.TypeSymlink
	}
	return p9.TypeRegular
}
