package share

import (
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// newEntry checks that f is a live, walkable directory in which name may
// be created.
func (f *file) newEntry(name string) error {
	if err := f.writable(); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	if !f.isDir() {
		return linux.ENOTDIR
	}
	if f.opaque {
		return linux.EACCES
	}
	return nil
}

// Create implements p9.File: a new regular file, opened. O_EXCL and
// O_NOFOLLOW make it a new inode in this directory, never a file that a
// symlink points to.
func (f *file) Create(name string, flags p9.OpenFlags, perm p9.FileMode, uid p9.UID, gid p9.GID) (p9.File, p9.QID, uint32, error) {
	if err := f.newEntry(name); err != nil {
		return nil, p9.QID{}, 0, err
	}
	oflags := unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY
	switch flags & p9.OpenFlagsModeMask {
	case p9.WriteOnly:
		oflags |= unix.O_WRONLY
	case p9.ReadWrite:
		oflags |= unix.O_RDWR
	}
	if flags&dotlDsync != 0 {
		oflags |= unix.O_DSYNC
	}
	if flags&dotlSync != 0 {
		oflags |= unix.O_SYNC
	}
	open, err := unix.Openat(f.fd, name, oflags, uint32(perm.Permissions()))
	if err != nil {
		return nil, p9.QID{}, 0, errno(err)
	}
	chown(open, "", uid, gid, unix.AT_EMPTY_PATH)
	// The O_PATH descriptor comes from the open one: the same inode,
	// whatever happens to the name meanwhile.
	fd, err := unix.Openat(f.s.procFD, procName(open), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(open)
		return nil, p9.QID{}, 0, errno(err)
	}
	dirFD, err := dupFD(f.fd)
	if err != nil {
		unix.Close(open)
		unix.Close(fd)
		return nil, p9.QID{}, 0, err
	}
	nf, err := newFile(f.s, fd, dirFD, name, false)
	if err != nil {
		unix.Close(open)
		return nil, p9.QID{}, 0, err
	}
	nf.openFD = open
	qid, _, _, err := nf.GetAttr(p9.AttrMask{})
	if err != nil {
		nf.Close()
		return nil, p9.QID{}, 0, err
	}
	return nf, qid, 0, nil
}

// Mkdir implements p9.File.
func (f *file) Mkdir(name string, perm p9.FileMode, uid p9.UID, gid p9.GID) (p9.QID, error) {
	if err := f.newEntry(name); err != nil {
		return p9.QID{}, err
	}
	if err := unix.Mkdirat(f.fd, name, uint32(perm.Permissions())); err != nil {
		return p9.QID{}, errno(err)
	}
	chown(f.fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	return f.childQID(name)
}

// Symlink implements p9.File: a link named newName whose text is target.
// The text is not looked at: the guest resolves it.
func (f *file) Symlink(target, newName string, uid p9.UID, gid p9.GID) (p9.QID, error) {
	if err := f.newEntry(newName); err != nil {
		return p9.QID{}, err
	}
	if target == "" || len(target) >= unix.PathMax {
		return p9.QID{}, linux.EINVAL
	}
	if err := unix.Symlinkat(target, f.fd, newName); err != nil {
		return p9.QID{}, errno(err)
	}
	chown(f.fd, newName, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	return f.childQID(newName)
}

// Link implements p9.File: a hard link named newName to target, a file of
// this share. The link is made from target's own descriptor (linkat with
// AT_EMPTY_PATH, which needs CAP_DAC_READ_SEARCH) or else from its entry,
// without following a symlink: it is always an inode inside the share.
func (f *file) Link(target p9.File, newName string) error {
	if err := f.newEntry(newName); err != nil {
		return err
	}
	t, err := f.peer(target)
	if err != nil {
		return err
	}
	if t.isDir() {
		return linux.EPERM
	}
	err = unix.Linkat(t.fd, "", f.fd, newName, unix.AT_EMPTY_PATH)
	if err != unix.ENOENT && err != unix.EPERM {
		return errno(err)
	}
	dirFD, name, err := t.entry()
	if err != nil {
		return err
	}
	return errno(unix.Linkat(dirFD, name, f.fd, newName, 0))
}

// Mknod implements p9.File for regular files, FIFOs and sockets. Device
// nodes are refused: host programs would reach host devices through them.
func (f *file) Mknod(name string, mode p9.FileMode, major, minor uint32, uid p9.UID, gid p9.GID) (p9.QID, error) {
	if err := f.newEntry(name); err != nil {
		return p9.QID{}, err
	}
	switch mode.FileType() {
	case p9.ModeRegular, p9.ModeNamedPipe, p9.ModeSocket:
	case p9.ModeCharacterDevice, p9.ModeBlockDevice:
		return p9.QID{}, linux.EPERM
	default:
		return p9.QID{}, linux.EINVAL
	}
	m := uint32(mode.FileType()) | uint32(mode.Permissions())
	if err := unix.Mknodat(f.fd, name, m, 0); err != nil {
		return p9.QID{}, errno(err)
	}
	chown(f.fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	return f.childQID(name)
}

// childQID is the QID of the entry name in f, not followed.
func (f *file) childQID(name string) (p9.QID, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(f.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return p9.QID{}, errno(err)
	}
	return f.s.qid(&st), nil
}

// chown gives a new entry the guest's owner and group where those are
// valid, best effort: a server without CAP_CHOWN keeps its own.
func chown(dirFD int, name string, uid p9.UID, gid p9.GID, flags int) {
	u, g := -1, -1
	if uid.Ok() {
		u = int(uid)
	}
	if gid.Ok() {
		g = int(gid)
	}
	if u != -1 || g != -1 {
		unix.Fchownat(dirFD, name, u, g, flags)
	}
}
