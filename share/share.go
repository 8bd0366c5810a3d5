package share

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// Share is one host directory served over 9P2000.L. It implements
// p9.Attacher; each Attach returns a new root File.
type Share struct {
	// root is an O_PATH descriptor of the share's top directory; procFD
	// one of /proc/self/fd, through which an O_PATH descriptor is
	// reopened for I/O or changed in place. Both immutable until Close.
	root, procFD int
	// rootDev is the device of the root, for the pseudo file system
	// check (see opaqueFS).
	rootDev  uint64
	readOnly bool
	// qids maps device numbers to QID path prefixes.
	qids qidMap

	closeOnce sync.Once
}

var _ p9.Attacher = (*Share)(nil)

// New opens dir (following symbolic links in dir itself) and returns a
// server for the tree below it. readOnly makes every modifying operation
// fail with EROFS. It needs Linux 5.6 (openat2) and /proc.
func New(dir string, readOnly bool) (*Share, error) {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("share: %s: %w", dir, err)
	}
	s := &Share{root: root, procFD: -1, readOnly: readOnly}
	var st unix.Stat_t
	if err := unix.Fstat(root, &st); err != nil {
		s.Close()
		return nil, fmt.Errorf("share: %s: %w", dir, err)
	}
	s.rootDev = st.Dev
	if s.procFD, err = unix.Open("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		s.Close()
		return nil, fmt.Errorf("share: /proc/self/fd: %w", err)
	}
	// openat2 with RESOLVE_BENEATH is what confines every walk.
	fd, err := walkFD(root, ".")
	if err != nil {
		s.Close()
		if errors.Is(err, unix.ENOSYS) {
			return nil, errors.New("share: openat2(2) not available (needs Linux 5.6)")
		}
		return nil, fmt.Errorf("share: %s: openat2: %w", dir, err)
	}
	unix.Close(fd)
	return s, nil
}

// ReadOnly reports whether the share refuses modifications.
func (s *Share) ReadOnly() bool { return s.readOnly }

// Close releases the share's descriptors. Files already attached keep
// their own descriptors but can no longer be reopened for I/O.
func (s *Share) Close() error {
	s.closeOnce.Do(func() {
		closeFD(&s.root)
		closeFD(&s.procFD)
	})
	return nil
}

// Attach implements p9.Attacher: a new File for the share's root.
func (s *Share) Attach() (p9.File, error) {
	fd, err := unix.Dup(s.root)
	if err != nil {
		return nil, errno(err)
	}
	unix.CloseOnExec(fd)
	f, err := newFile(s, fd, -1, "", false)
	if err != nil {
		return nil, err
	}
	if !f.isDir() {
		f.Close()
		return nil, linux.ENOTDIR
	}
	return f, nil
}

// walkFD opens name in dir as an O_PATH descriptor without following a
// symbolic link anywhere, and fails with EXDEV if name would leave dir.
func walkFD(dir int, name string) (int, error) {
	for {
		fd, err := unix.Openat2(dir, name, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue // EAGAIN: a concurrent rename raced the lookup
		}
		return fd, err
	}
}

// checkName accepts one path component: not empty, ".", "..", and no '/'
// or NUL.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return linux.EINVAL
	}
	if len(name) > 255 {
		return linux.ENAMETOOLONG
	}
	return nil
}

// errno turns a system call error into the linux.Errno the p9 server sends
// as is (a bare unix.Errno would be folded: EPERM reads as EACCES).
func errno(err error) error {
	var e unix.Errno
	if errors.As(err, &e) {
		return linux.Errno(e)
	}
	return err
}

func closeFD(fd *int) {
	if *fd >= 0 {
		unix.Close(*fd)
		*fd = -1
	}
}
