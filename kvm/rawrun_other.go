//go:build !amd64

package kvm

import "golang.org/x/sys/unix"

// rawIoctl is ioctl(fd, req, 0) without telling Go's scheduler. It returns
// the errno, or 0.
func rawIoctl(fd, req uintptr) (errno uintptr) {
	_, _, e := unix.RawSyscall(unix.SYS_IOCTL, fd, req, 0)
	return uintptr(e)
}
