package share

import (
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
)

// Extended attributes are not served: every file has none, and none can
// be set (ENOTSUP, or EROFS on a read-only share). A Linux guest treats
// that as a file system without xattrs.

// GetXattr implements p9.File.
func (f *file) GetXattr(attr string) ([]byte, error) { return nil, linux.ENODATA }

// ListXattrs implements p9.File.
func (f *file) ListXattrs() ([]string, error) { return nil, nil }

// SetXattr implements p9.File.
func (f *file) SetXattr(attr string, data []byte, flags p9.XattrFlags) error {
	if err := f.writable(); err != nil {
		return err
	}
	return linux.EOPNOTSUPP
}

// RemoveXattr implements p9.File.
func (f *file) RemoveXattr(attr string) error {
	if err := f.writable(); err != nil {
		return err
	}
	return linux.EOPNOTSUPP
}

// Lock implements p9.File: POSIX locks always succeed. The Linux client
// keeps its own lock table (locks_lock_file_wait) before asking, so
// processes of one guest still exclude each other.
func (f *file) Lock(pid int, typ p9.LockType, flags p9.LockFlags, start, length uint64, client string) (p9.LockStatus, error) {
	return p9.LockStatusOK, nil
}
