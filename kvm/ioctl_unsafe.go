package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl issues one ioctl with a pointer argument and retries it when a signal
// interrupted it, except for KVM_RUN, whose EINTR the caller must see.
func ioctl(fd int, req uintptr, arg unsafe.Pointer) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
		if e == unix.EINTR && req != ioctlRun {
			continue
		}
		if e != 0 {
			return r, e
		}
		return r, nil
	}
}

// ioctlVal issues an ioctl whose argument is a plain integer.
func ioctlVal(fd int, req, val uintptr) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, val)
		if e == unix.EINTR && req != ioctlRun {
			continue
		}
		if e != 0 {
			return r, e
		}
		return r, nil
	}
}

// sliceAddr is the host address of b[0], for KVM_SET_USER_MEMORY_REGION.
func sliceAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// ioctlPtr issues an ioctl whose argument points to v. Generic so that every
// caller stays free of unsafe.
func ioctlPtr[T any](fd int, req uintptr, v *T) (uintptr, error) {
	return ioctl(fd, req, unsafe.Pointer(v))
}
