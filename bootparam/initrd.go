package bootparam

import (
	"fmt"
	"math"
)

// InitrdAlign is the alignment PlaceInitrd gives the initrd: one 4 KiB page.
const InitrdAlign = 4096

// PlaceInitrd chooses the guest address for an initrd of size bytes: as high
// as possible, page-aligned, ending at or below min(ramTop, addrMax+1) and
// starting at or above kernelEnd so it never overlaps the kernel.
//
// ramTop is the first address past the RAM the initrd may use, addrMax is the
// kernel's initrd_addr_max (the highest byte the initrd may occupy, inclusive:
// boot.rst: 'Field name: initrd_addr_max'), and kernelEnd is the first address
// past the kernel (for a bzImage, its runtime start plus MemSize). A kernel
// with XLF_CAN_BE_LOADED_ABOVE_4G accepts an initrd anywhere, so a caller may
// pass math.MaxUint64 as addrMax for it; govmm keeps initrds below 4 GiB.
func PlaceInitrd(size, ramTop, addrMax, kernelEnd uint64) (uint64, error) {
	if size == 0 {
		return 0, fmt.Errorf("initrd is empty")
	}
	top := ramTop
	if addrMax != math.MaxUint64 {
		top = min(top, addrMax+1)
	}
	if size <= top {
		addr := (top - size) &^ (InitrdAlign - 1)
		if addr >= kernelEnd {
			return addr, nil
		}
	}
	return 0, fmt.Errorf("initrd (%.1f MiB) does not fit below 0x%X (RAM top 0x%X, initrd_addr_max 0x%X) above the kernel end 0x%X",
		float64(size)/(1<<20), top, ramTop, addrMax, kernelEnd)
}
