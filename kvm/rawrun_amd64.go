package kvm

// rawIoctl is ioctl(fd, req, 0) as one SYSCALL instruction
// (rawrun_amd64.s). It returns the errno, or 0.
//
//go:noescape
func rawIoctl(fd, req uintptr) (errno uintptr)
