package virtio

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// newEventfd returns a non-blocking, close-on-exec eventfd.
func newEventfd() (int, error) {
	return unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
}

// signalEventfd adds 1 to the eventfd's counter. EAGAIN (counter at its
// maximum) still leaves the fd readable, so it is not an error.
func signalEventfd(fd int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 1)
	for {
		_, err := unix.Write(fd, b[:])
		if err != unix.EINTR {
			return
		}
	}
}

// drainEventfd resets the eventfd's counter to zero.
func drainEventfd(fd int) {
	var b [8]byte
	for {
		_, err := unix.Read(fd, b[:])
		if err != unix.EINTR {
			return
		}
	}
}
