package memory

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// MapAnonymous returns size bytes of private anonymous host memory for guest
// RAM. MAP_NORESERVE means untouched guest pages cost the host nothing.
func MapAnonymous(size uint64) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes of guest memory: %w", size, err)
	}
	return b, nil
}

// Unmap releases memory returned by MapAnonymous.
func Unmap(b []byte) error { return unix.Munmap(b) }
