package share

import (
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// SetAttr implements p9.File. Mode and size reach the inode through
// /proc/self/fd (a symlink has neither), owner through its O_PATH
// descriptor, times through /proc/self/fd or, for a symlink, its entry
// without following.
func (f *file) SetAttr(valid p9.SetAttrMask, a p9.SetAttr) error {
	if valid.Empty() {
		return nil
	}
	if err := f.writable(); err != nil {
		return err
	}
	if valid.Permissions {
		if f.isSymlink() {
			return linux.EOPNOTSUPP
		}
		if err := unix.Fchmodat(f.s.procFD, procName(f.fd), uint32(a.Permissions.Permissions()), 0); err != nil {
			return errno(err)
		}
	}
	if valid.UID || valid.GID {
		u, g := -1, -1
		if valid.UID {
			u = int(a.UID)
		}
		if valid.GID {
			g = int(a.GID)
		}
		if err := unix.Fchownat(f.fd, "", u, g, unix.AT_EMPTY_PATH); err != nil {
			return errno(err)
		}
	}
	if valid.Size {
		if err := f.truncate(a.Size); err != nil {
			return err
		}
	}
	if valid.ATime || valid.MTime {
		return f.setTimes(valid, a)
	}
	return nil
}

// truncate sets a regular file's size.
func (f *file) truncate(size uint64) error {
	switch {
	case f.isDir():
		return linux.EISDIR
	case !f.isRegular():
		return linux.EINVAL
	case size > 1<<63-1:
		return linux.EFBIG
	}
	fd, err := f.reopen(unix.O_WRONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return errno(unix.Ftruncate(fd, int64(size)))
}

// setTimes applies the access and modification times: the given ones
// (…NotSystemTime), now, or unchanged (UTIME_OMIT).
func (f *file) setTimes(valid p9.SetAttrMask, a p9.SetAttr) error {
	ts := [2]unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
	if valid.ATime {
		ts[0] = unix.Timespec{Nsec: unix.UTIME_NOW}
		if valid.ATimeNotSystemTime {
			ts[0] = unix.Timespec{Sec: int64(a.ATimeSeconds), Nsec: int64(a.ATimeNanoSeconds)}
		}
	}
	if valid.MTime {
		ts[1] = unix.Timespec{Nsec: unix.UTIME_NOW}
		if valid.MTimeNotSystemTime {
			ts[1] = unix.Timespec{Sec: int64(a.MTimeSeconds), Nsec: int64(a.MTimeNanoSeconds)}
		}
	}
	if !f.isSymlink() {
		return errno(unix.UtimesNanoAt(f.s.procFD, procName(f.fd), ts[:], 0))
	}
	dirFD, name, err := f.entry()
	if err != nil {
		return err
	}
	return errno(unix.UtimesNanoAt(dirFD, name, ts[:], unix.AT_SYMLINK_NOFOLLOW))
}

// Rename implements p9.File: this entry moves to newName in newDir, a
// directory of the same share. The server then calls Renamed.
func (f *file) Rename(newDir p9.File, newName string) error {
	if err := f.writable(); err != nil {
		return err
	}
	d, err := f.peer(newDir)
	if err != nil {
		return err
	}
	if err := d.newEntry(newName); err != nil {
		return err
	}
	dirFD, name, err := f.entry()
	if err != nil {
		return err
	}
	return errno(unix.Renameat(dirFD, name, d.fd, newName))
}

// RenameAt implements p9.File: oldName in f moves to newName in newDir.
func (f *file) RenameAt(oldName string, newDir p9.File, newName string) error {
	if err := f.newEntry(oldName); err != nil {
		return err
	}
	d, err := f.peer(newDir)
	if err != nil {
		return err
	}
	if err := d.newEntry(newName); err != nil {
		return err
	}
	return errno(unix.Renameat(f.fd, oldName, d.fd, newName))
}

// UnlinkAt implements p9.File; flags may hold AT_REMOVEDIR.
func (f *file) UnlinkAt(name string, flags uint32) error {
	if err := f.newEntry(name); err != nil {
		return err
	}
	if flags&^unix.AT_REMOVEDIR != 0 {
		return linux.EINVAL
	}
	return errno(unix.Unlinkat(f.fd, name, int(flags)))
}
