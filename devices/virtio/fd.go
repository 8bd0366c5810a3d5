package virtio

import "golang.org/x/sys/unix"

// closeFD closes *fd if open and marks it closed.
func closeFD(fd *int) {
	if *fd >= 0 {
		unix.Close(*fd)
		*fd = -1
	}
}
