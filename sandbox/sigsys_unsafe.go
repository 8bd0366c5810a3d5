//go:build linux && amd64

package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The message halves, for the assembly handler: pointers into read-only
// string data, which never moves.
var (
	prefixPtr = unsafe.StringData(Prefix)
	prefixLen = len(Prefix)
	suffixPtr = unsafe.StringData(Suffix)
	suffixLen = len(Suffix)
)

// Implemented in sigsys_amd64.s. The first two are called only by the
// kernel.
func sigsysHandler()
func sigsysRestorer()
func sigsysHandlerAddr() uintptr
func sigsysRestorerAddr() uintptr

// kernelSigaction is the kernel's struct sigaction on x86-64, as
// rt_sigaction(2) takes it (not glibc's layout).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// Flags from <asm/signal.h>.
const (
	saSiginfo  = 0x4
	saOnstack  = 0x08000000
	saRestorer = 0x04000000
)

// setSIGSYSHandler installs sigsysHandler for SIGSYS, replacing the Go
// runtime's handler, and returns a func that puts the old one back.
// SA_ONSTACK runs it on the thread's signal stack; every other signal is
// blocked while it runs.
func setSIGSYSHandler() (restore func(), err error) {
	act := kernelSigaction{
		handler:  sigsysHandlerAddr(),
		flags:    saSiginfo | saOnstack | saRestorer,
		restorer: sigsysRestorerAddr(),
		mask:     ^uint64(0),
	}
	var old kernelSigaction
	if err := rtSigaction(unix.SIGSYS, &act, &old); err != nil {
		return nil, err
	}
	return func() { rtSigaction(unix.SIGSYS, &old, nil) }, nil
}

func rtSigaction(sig unix.Signal, act, old *kernelSigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
