package memory

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapAligned maps size bytes of anonymous memory starting at a multiple of
// align (a power of two): it maps size+align bytes, then unmaps the parts
// before the first aligned address and after the aligned region (the
// trick QEMU's qemu_ram_mmap uses). The raw MmapPtr/MunmapPtr calls are
// needed because unix.Munmap only releases whole mappings made by
// unix.Mmap.
func mapAligned(size, align uint64) ([]byte, error) {
	total := uintptr(size + align)
	p, err := unix.MmapPtr(-1, 0, nil, total, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, err
	}
	// head is how far p is from the next multiple of align.
	head := (align - uint64(uintptr(p))%align) % align
	start := unsafe.Add(p, head)
	if head > 0 {
		if err := unix.MunmapPtr(p, uintptr(head)); err != nil {
			unix.MunmapPtr(p, total)
			return nil, err
		}
	}
	if tail := uint64(total) - head - size; tail > 0 {
		if err := unix.MunmapPtr(unsafe.Add(start, size), uintptr(tail)); err != nil {
			unix.MunmapPtr(start, uintptr(size))
			return nil, err
		}
	}
	return unsafe.Slice((*byte)(start), size), nil
}

// unmap releases a mapping made by mapAligned.
func unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)))
}
