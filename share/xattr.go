package share

import (
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
)

// Extended attributes are not served: every file has none, and none can
// be set (ENOTSUP, or EROFS on a read-only share). A Linux guest treats
// that as a file system without xattrs.
//
// Neither GetXattr nor ListXattrs may ever succeed. On success, p9's
// server (v0.3.0) hands the new fid of a Txattrwalk the very File of the
// fid it walked from, without a reference, and with the parent of that
// fid, without a reference either: the Tclunk of the new fid, which a
// Linux guest sends right after reading the value or list, Closes the
// File (every later Twalk, Tgetattr, ... on the original fid fails with
// EBADF) and drops a reference of the parent fid that was never taken
// (which in time closes the parent's File too). A failing Txattrwalk
// makes no fid.

// GetXattr implements p9.File: no attribute is there (ENODATA, which
// overlayfs needs of a lower layer; p9's server sends EINVAL and the
// virtio-9p device turns it back).
func (f *file) GetXattr(attr string) ([]byte, error) { return nil, linux.ENODATA }

// ListXattrs implements p9.File: listing is not supported (EOPNOTSUPP,
// which overlayfs's copy-up and cp -a take as no attributes; p9's server
// sends EINVAL and the virtio-9p device turns it back). An empty list,
// a success, would break the fid listed (see above).
func (f *file) ListXattrs() ([]string, error) { return nil, linux.EOPNOTSUPP }

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
