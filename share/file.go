package share

import (
	"strconv"
	"sync"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// file is one p9.File: an inode of the share, held by an O_PATH
// descriptor, and the directory entry it was reached by.
type file struct {
	p9.DefaultWalkGetAttr
	s *Share
	// fd is the O_PATH descriptor; typ its S_IFMT bits and dev its
	// device, fixed for the inode. opaque marks a directory on a pseudo
	// file system (see opaqueFS): it reads empty and cannot be walked.
	// All immutable until Close.
	fd     int
	typ    uint32
	dev    uint64
	opaque bool

	// mu guards the fields below.
	mu sync.Mutex
	// dirFD (an O_PATH descriptor of the parent directory, -1 for the
	// root) and name are the entry, for operations on the entry itself
	// (Rename, and times of a symlink). Renamed moves them.
	dirFD int
	name  string
	// openFD is the descriptor Open made, -1 before.
	openFD int
}

var _ p9.File = (*file)(nil)

// newFile wraps fd (owned) reached as name in dirFD (owned; -1 for the
// root). parentOpaque passes opacity down.
func newFile(s *Share, fd, dirFD int, name string, parentOpaque bool) (*file, error) {
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		unix.Close(fd)
		if dirFD >= 0 {
			unix.Close(dirFD)
		}
		return nil, err
	}
	f := &file{s: s, fd: fd, typ: st.Mode & unix.S_IFMT, dev: st.Dev, dirFD: dirFD, name: name, openFD: -1}
	f.opaque = parentOpaque || (f.isDir() && opaqueFS(fd))
	return f, nil
}

func (f *file) isDir() bool     { return f.typ == unix.S_IFDIR }
func (f *file) isSymlink() bool { return f.typ == unix.S_IFLNK }
func (f *file) isRegular() bool { return f.typ == unix.S_IFREG }

// fstat stats the inode behind an O_PATH descriptor without following it.
func fstat(fd int, st *unix.Stat_t) error {
	return errno(unix.Fstatat(fd, "", st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW))
}

// procName is the name of fd in /proc/self/fd: *at() calls on s.procFD
// with it reach fd's inode itself (which must not be a symlink: a call
// that follows would then follow it).
func procName(fd int) string { return strconv.Itoa(fd) }

// dupFD duplicates fd close-on-exec; -1 stays -1.
func dupFD(fd int) (int, error) {
	if fd < 0 {
		return -1, nil
	}
	n, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	return n, errno(err)
}

// Walk implements p9.File: zero names clone the file, one name steps into
// a directory entry. The p9 server never passes more than one.
func (f *file) Walk(names []string) ([]p9.QID, p9.File, error) {
	switch len(names) {
	case 0:
		c, err := f.clone()
		if err != nil {
			return nil, nil, err
		}
		return nil, c, nil
	case 1:
	default:
		return nil, nil, linux.EINVAL
	}
	return f.walk(names[0])
}

func (f *file) walk(name string) ([]p9.QID, p9.File, error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	if !f.isDir() {
		return nil, nil, linux.ENOTDIR
	}
	if f.opaque {
		return nil, nil, linux.ENOENT
	}
	fd, err := walkFD(f.fd, name)
	if err != nil {
		return nil, nil, errno(err)
	}
	dirFD, err := dupFD(f.fd)
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	nf, err := newFile(f.s, fd, dirFD, name, false)
	if err != nil {
		return nil, nil, err
	}
	qid, _, _, err := nf.GetAttr(p9.AttrMask{})
	if err != nil {
		nf.Close()
		return nil, nil, err
	}
	return []p9.QID{qid}, nf, nil
}

// clone is Walk with no names: a new File for the same inode and entry.
func (f *file) clone() (p9.File, error) {
	fd, err := dupFD(f.fd)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	dirFD, err := dupFD(f.dirFD)
	name := f.name
	f.mu.Unlock()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	c := &file{s: f.s, fd: fd, typ: f.typ, dev: f.dev, opaque: f.opaque, dirFD: dirFD, name: name, openFD: -1}
	return c, nil
}

// GetAttr implements p9.File.
func (f *file) GetAttr(req p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	var st unix.Stat_t
	if err := fstat(f.fd, &st); err != nil {
		return p9.QID{}, p9.AttrMask{}, p9.Attr{}, err
	}
	return f.s.qid(&st), attrValid, attr(&st), nil
}

// StatFS implements p9.File: the host file system's numbers.
func (f *file) StatFS() (p9.FSStat, error) {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(f.fd, &fs); err != nil {
		return p9.FSStat{}, errno(err)
	}
	return p9.FSStat{
		Type:            uint32(fs.Type),
		BlockSize:       uint32(fs.Bsize),
		Blocks:          fs.Blocks,
		BlocksFree:      fs.Bfree,
		BlocksAvailable: fs.Bavail,
		Files:           fs.Files,
		FilesFree:       fs.Ffree,
		FSID:            uint64(uint32(fs.Fsid.Val[0])) | uint64(uint32(fs.Fsid.Val[1]))<<32,
		NameLength:      uint32(fs.Namelen),
	}, nil
}

// Readlink implements p9.File: the link's text, never followed.
func (f *file) Readlink() (string, error) {
	if !f.isSymlink() {
		return "", linux.EINVAL
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(f.fd, "", buf)
	if err != nil {
		return "", errno(err)
	}
	if n == len(buf) {
		return "", linux.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

// Renamed implements p9.File: the entry moved to newName in newDir.
func (f *file) Renamed(newDir p9.File, newName string) {
	d, ok := newDir.(*file)
	if !ok {
		return
	}
	dirFD, err := dupFD(d.fd)
	if err != nil {
		dirFD = -1 // later entry operations fail with EBADF
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	closeFD(&f.dirFD)
	f.dirFD, f.name = dirFD, newName
}

// Close implements p9.File.
func (f *file) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	closeFD(&f.openFD)
	closeFD(&f.dirFD)
	closeFD(&f.fd)
	return nil
}

// entry returns the parent directory descriptor and name, for an
// operation on the entry itself. The root has none (EBUSY, as for a
// mount point).
func (f *file) entry() (int, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dirFD < 0 {
		if f.name == "" {
			return -1, "", linux.EBUSY
		}
		return -1, "", linux.EBADF
	}
	return f.dirFD, f.name, nil
}

// peer returns other as a file of the same share, or EXDEV.
func (f *file) peer(other p9.File) (*file, error) {
	o, ok := other.(*file)
	if !ok || o.s != f.s {
		return nil, linux.EXDEV
	}
	return o, nil
}

// writable fails with EROFS on a read-only share.
func (f *file) writable() error {
	if f.s.readOnly {
		return linux.EROFS
	}
	return nil
}
