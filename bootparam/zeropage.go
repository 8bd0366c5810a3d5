package bootparam

import (
	"encoding/binary"
	"fmt"
)

// ZeroPageSize is sizeof(struct boot_params).
const ZeroPageSize = 4096

// Offsets inside struct boot_params (bootparam.h) and its setup header
// (boot.rst: "The Real-Mode Kernel Header").
const (
	zpExtRamdiskImage = 0x0C0 // ext_ramdisk_image, u32: bits 63..32
	zpExtRamdiskSize  = 0x0C4 // ext_ramdisk_size, u32: bits 63..32
	zpExtCmdLinePtr   = 0x0C8 // ext_cmd_line_ptr, u32: bits 63..32
	zpE820Entries     = 0x1E8 // e820_entries, u8
	zpVidMode         = 0x1FA // hdr.vid_mode, u16
	zpTypeOfLoader    = 0x210 // hdr.type_of_loader, u8
	zpLoadflags       = 0x211 // hdr.loadflags, u8
	zpRamdiskImage    = 0x218 // hdr.ramdisk_image, u32
	zpRamdiskSize     = 0x21C // hdr.ramdisk_size, u32
	zpHeapEndPtr      = 0x224 // hdr.heap_end_ptr, u16
	zpCmdLinePtr      = 0x228 // hdr.cmd_line_ptr, u32
	zpE820Table       = 0x2D0 // e820_table[128], 20 bytes each
)

// Values boot.rst fixes for the fields BuildZeroPage writes.
const (
	// LoaderUndefined is type_of_loader for a loader without an assigned
	// id (boot.rst: 'Field name: type_of_loader': "enter 0xFF here").
	LoaderUndefined = 0xFF
	// HeapEndPtr is heap_end_ptr for a setup stack/heap that fills the
	// real-mode segment: its end (0x10000) minus 0x200 (boot.rst: 'Field
	// name: heap_end_ptr').
	HeapEndPtr = 0xFE00
	// VidModeNormal is vid_mode "normal" (boot.rst: 'Field name: vid_mode':
	// 0xFFFF means "normal").
	VidModeNormal = 0xFFFF
)

// ZeroPageParams are the guest addresses and memory map BuildZeroPage writes
// into struct boot_params. The caller (the machine) owns all addresses.
type ZeroPageParams struct {
	// CmdlineAddr is the guest physical address of the NUL-terminated
	// command line (cmd_line_ptr; bits 63..32 go to ext_cmd_line_ptr).
	CmdlineAddr uint64
	// InitrdAddr and InitrdSize locate the initrd (ramdisk_image,
	// ramdisk_size and their ext_ halves); InitrdSize 0 means no initrd.
	InitrdAddr uint64
	InitrdSize uint64
	// E820 is the memory map, at most MaxE820Entries entries, written in
	// the given order.
	E820 []E820Entry
}

const fourGiB = 1 << 32

// BuildZeroPage returns the 4096 bytes of struct boot_params for booting img
// through the 64-bit boot protocol (boot.rst: "64-bit Boot Protocol"): a zero
// page holding the image's setup header at 0x1F1, with type_of_loader 0xFF,
// CAN_USE_HEAP and heap_end_ptr 0xFE00, vid_mode 0xFFFF, the command line
// and initrd pointers (upper halves in the ext_ fields) and the e820 table.
//
// It fails if the e820 table is too long, if the initrd does not lie within
// initrd_addr_max, or if the command line or initrd lie above 4 GiB without
// XLF_CAN_BE_LOADED_ABOVE_4G.
func BuildZeroPage(img *BzImage, p ZeroPageParams) ([]byte, error) {
	if len(p.E820) > MaxE820Entries {
		return nil, fmt.Errorf("zero page: e820 table has %d entries, at most %d fit", len(p.E820), MaxE820Entries)
	}
	above4G := img.XLoadflags&XLFCanBeLoadedAbove4G != 0
	if p.CmdlineAddr >= fourGiB && !above4G {
		return nil, fmt.Errorf("zero page: command line at 0x%X is above 4 GiB but xloadflags lacks XLF_CAN_BE_LOADED_ABOVE_4G", p.CmdlineAddr)
	}
	if p.InitrdSize > 0 {
		last := p.InitrdAddr + p.InitrdSize - 1
		if last < p.InitrdAddr {
			return nil, fmt.Errorf("zero page: initrd at 0x%X of %d bytes wraps around the address space", p.InitrdAddr, p.InitrdSize)
		}
		// initrd_addr_max is the highest byte the initrd may occupy; the
		// kernels that may be loaded above 4 GiB accept any address.
		if !above4G && last > uint64(img.InitrdAddrMax) {
			return nil, fmt.Errorf("zero page: initrd [0x%X, 0x%X] ends above initrd_addr_max 0x%X", p.InitrdAddr, last, img.InitrdAddrMax)
		}
	}

	zp := make([]byte, ZeroPageSize)
	copy(zp[offSetupSects:maxHeaderEnd], img.Header)

	le := binary.LittleEndian
	zp[zpTypeOfLoader] = LoaderUndefined
	zp[zpLoadflags] |= CanUseHeap
	le.PutUint16(zp[zpHeapEndPtr:], HeapEndPtr)
	le.PutUint16(zp[zpVidMode:], VidModeNormal)

	le.PutUint32(zp[zpCmdLinePtr:], uint32(p.CmdlineAddr))
	le.PutUint32(zp[zpExtCmdLinePtr:], uint32(p.CmdlineAddr>>32))

	if p.InitrdSize > 0 {
		le.PutUint32(zp[zpRamdiskImage:], uint32(p.InitrdAddr))
		le.PutUint32(zp[zpExtRamdiskImage:], uint32(p.InitrdAddr>>32))
		le.PutUint32(zp[zpRamdiskSize:], uint32(p.InitrdSize))
		le.PutUint32(zp[zpExtRamdiskSize:], uint32(p.InitrdSize>>32))
	} else {
		// boot.rst: "Leave at zero if there is no initial ramdisk".
		le.PutUint32(zp[zpRamdiskImage:], 0)
		le.PutUint32(zp[zpRamdiskSize:], 0)
	}

	zp[zpE820Entries] = uint8(len(p.E820))
	for i, e := range p.E820 {
		putE820(zp[zpE820Table+i*e820EntrySize:], e)
	}
	return zp, nil
}
