package bootparam

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Setup header offsets and values fixed by boot.rst ("The Real-Mode Kernel
// Header" and "Details of Header Fields"). Offsets are from the start of the
// image, which equal the offsets inside struct boot_params.
const (
	offSetupSects  = 0x1F1 // setup_sects, u8
	offBootFlag    = 0x1FE // boot_flag, u16 = 0xAA55
	offJump        = 0x200 // jump, u16; byte 0x201 gives the header length
	offHeaderEnd   = 0x202 // the setup header ends at 0x202 + byte at 0x201
	offHeaderMagic = 0x202 // header, "HdrS"

	// The other fields ParseBzImage reads, by their offsets in the
	// table of boot.rst ("The Real-Mode Kernel Header").
	offSyssize           = 0x1F4 // syssize, u32 (2.04+)
	offVersion           = 0x206 // version, u16
	offLoadflags         = 0x211 // loadflags, u8
	offInitrdAddrMax     = 0x22C // initrd_addr_max, u32 (2.03+)
	offKernelAlignment   = 0x230 // kernel_alignment, u32 (2.05+)
	offRelocatableKernel = 0x234 // relocatable_kernel, u8 (2.05+)
	offXLoadflags        = 0x236 // xloadflags, u16 (2.12+)
	offCmdlineSize       = 0x238 // cmdline_size, u32 (2.06+)
	offPrefAddress       = 0x258 // pref_address, u64 (2.10+)
	offInitSize          = 0x260 // init_size, u32 (2.10+)
	// setupHeaderLen is how much of the image ParseBzImage needs at
	// least: up to the end of kernel_info_offset (0x264, 4 bytes), the
	// last field of protocol 2.15.
	setupHeaderLen = 0x268

	// maxHeaderEnd is where struct setup_header must end inside struct
	// boot_params: bootparam.h pads it up to edd_mbr_sig_buffer at 0x290.
	maxHeaderEnd = 0x290
	// minHeaderEnd covers every header field this package reads (up to
	// init_size, 0x260/4, protocol 2.10+).
	minHeaderEnd = 0x264

	bootFlagMagic = 0xAA55
	sectorSize    = 512 // boot.rst: "a sector" refers to 512 bytes

	// defaultSetupSects is the value a setup_sects of 0 stands for
	// (boot.rst: "if the setup_sects field contains 0, the real value is 4").
	defaultSetupSects = 4
)

// Protocol versions (boot.rst: "Currently, the following versions of the
// Linux/x86 boot protocol exist").
const (
	// MinVersionCmdlineSize is the first protocol with cmdline_size.
	MinVersionCmdlineSize = 0x0206
	// MinVersionXLoadflags is the first protocol with xloadflags, which the
	// 64-bit entry point (XLF_KERNEL_64) is advertised in; it is the minimum
	// ParseBzImage accepts.
	MinVersionXLoadflags = 0x020C
	// minVersionPrefAddress is the first protocol with pref_address and
	// init_size.
	minVersionPrefAddress = 0x020A
)

// loadflags bits (boot.rst: 'Field name: loadflags').
const (
	// LoadedHigh (bit 0) means the protected-mode code is loaded at
	// 0x100000; a zImage (bit clear) is not supported.
	LoadedHigh = 0x01
	// CanUseHeap (bit 7) tells the kernel heap_end_ptr is valid.
	CanUseHeap = 0x80
)

// xloadflags bits (boot.rst: 'Field name: xloadflags').
const (
	// XLFKernel64 (bit 0): the kernel has the 64-bit entry point at the
	// protected-mode load address + 0x200.
	XLFKernel64 = 0x0001
	// XLFCanBeLoadedAbove4G (bit 1): kernel, boot_params, command line and
	// ramdisk may be above 4 GiB.
	XLFCanBeLoadedAbove4G = 0x0002
)

// Entry64Offset is the offset of the 64-bit entry point from the load address
// of the protected-mode kernel (boot.rst: "64-bit Boot Protocol").
const Entry64Offset = 0x200

// BzImage is a parsed bzImage: the setup header fields a loader needs and
// where in the file the protected-mode kernel lies.
type BzImage struct {
	// Version is the boot protocol version (0x206), e.g. 0x020F for 2.15.
	Version uint16
	// SetupSects is the number of 512-byte setup sectors after the boot
	// sector (0x1F1), with 0 already replaced by 4.
	SetupSects uint8
	// Loadflags is the loadflags byte (0x211) as found in the image.
	Loadflags uint8
	// XLoadflags is the xloadflags field (0x236).
	XLoadflags uint16
	// CmdlineSize is the maximum command line length in bytes, without the
	// terminating NUL (0x238). Protocols before 2.06 had a fixed 255, but
	// ParseBzImage rejects them, so this is always the header's value.
	CmdlineSize uint32
	// InitrdAddrMax is the highest address the initrd may occupy,
	// inclusive (0x22C).
	InitrdAddrMax uint32
	// KernelAlignment is the physical alignment a relocatable kernel
	// needs (0x230).
	KernelAlignment uint32
	// RelocatableKernel reports relocatable_kernel (0x234) != 0.
	RelocatableKernel bool
	// PrefAddress is the preferred load address (0x258; 0 before 2.10).
	PrefAddress uint64
	// InitSize is the linear memory the kernel needs from its runtime
	// start address before it reads the memory map (0x260; 0 before 2.10).
	InitSize uint32
	// Header is a copy of the setup header: image bytes 0x1F1 up to
	// 0x202 + byte at 0x201 (boot.rst: "64-bit Boot Protocol"), at most up
	// to 0x290 where the header area of struct boot_params ends.
	Header []byte
	// KernelOffset and KernelSize locate the protected-mode kernel in the
	// file: from (SetupSects+1)*512 to the end of the file. ParseBzImage
	// does not read it; the loader copies it to the load address.
	KernelOffset, KernelSize uint64
}

// headerMagic is the setup header's "header" field (boot.rst: 'Field name:
// header', "HdrS").
var headerMagic = []byte("HdrS")

// IsBzImage reports whether data starts like a bzImage: boot_flag 0xAA55 at
// 0x1FE and the "HdrS" magic at 0x202. It does no further validation.
func IsBzImage(data []byte) bool {
	return len(data) >= offHeaderMagic+4 &&
		binary.LittleEndian.Uint16(data[offBootFlag:]) == bootFlagMagic &&
		bytes.Equal(data[offHeaderMagic:offHeaderMagic+4], headerMagic)
}

// ParseBzImage validates a bzImage of size bytes, read through r, for the
// 64-bit boot protocol and returns its setup header fields and where its
// protected-mode kernel lies. It reads only the setup header (the first
// 0x290 bytes at most) and decompresses nothing. Errors name the offending
// field and value; callers add the file name.
func ParseBzImage(r io.ReaderAt, size int64) (*BzImage, error) {
	if size < setupHeaderLen {
		return nil, fmt.Errorf("not a bzImage: file is %d bytes, too short for the setup header (%d bytes)", size, setupHeaderLen)
	}
	data := make([]byte, min(size, maxHeaderEnd))
	if n, err := r.ReadAt(data, 0); n < len(data) {
		return nil, fmt.Errorf("reading the setup header: %w", err)
	}
	le := binary.LittleEndian
	if flag := le.Uint16(data[offBootFlag:]); flag != bootFlagMagic {
		return nil, fmt.Errorf("not a bzImage: boot_flag at 0x1FE is 0x%04X, want 0xAA55", flag)
	}
	if magic := data[offHeaderMagic : offHeaderMagic+4]; !bytes.Equal(magic, headerMagic) {
		return nil, fmt.Errorf("not a bzImage: missing HdrS magic at 0x202 (found %q)", magic)
	}
	v := le.Uint16(data[offVersion:])
	if v < MinVersionCmdlineSize {
		return nil, fmt.Errorf("boot protocol %s (version 0x%04X at 0x206) is too old: need >= 2.06 for cmdline_size", versionString(v), v)
	}
	if v < MinVersionXLoadflags {
		return nil, fmt.Errorf("boot protocol %s (version 0x%04X at 0x206) is too old: need >= 2.12 for xloadflags and the 64-bit entry point", versionString(v), v)
	}
	end := offHeaderEnd + int(data[offJump+1])
	if end < minHeaderEnd {
		return nil, fmt.Errorf("setup header ends at 0x%X (byte 0x%02X at 0x201), before the end of init_size at 0x%X", end, data[offJump+1], minHeaderEnd)
	}
	end = min(end, maxHeaderEnd)
	xloadflags, loadflags := le.Uint16(data[offXLoadflags:]), data[offLoadflags]
	if xloadflags&XLFKernel64 == 0 {
		return nil, fmt.Errorf("not a 64-bit kernel: xloadflags (0x236) is 0x%04X, XLF_KERNEL_64 (bit 0) is clear", xloadflags)
	}
	if loadflags&LoadedHigh == 0 {
		return nil, fmt.Errorf("loadflags (0x211) is 0x%02X, LOADED_HIGH (bit 0) is clear: zImage kernels are not supported", loadflags)
	}
	sects := data[offSetupSects]
	if sects == 0 {
		sects = defaultSetupSects
	}
	setupLen := (int64(sects) + 1) * sectorSize
	if size < setupLen {
		return nil, fmt.Errorf("bzImage truncated: setup_sects (0x1F1) is %d, so the setup code is %d bytes, but the file is %d bytes", sects, setupLen, size)
	}
	kernelSize := uint64(size - setupLen)
	if kernelSize == 0 {
		return nil, fmt.Errorf("bzImage has no protected-mode kernel after the %d bytes of setup code", setupLen)
	}
	// syssize (0x1F4, 2.04+) is the protected-mode size in 16-byte
	// paragraphs; allow it to be rounded up.
	syssize := le.Uint32(data[offSyssize:])
	if want := uint64(syssize) * 16; kernelSize+15 < want {
		return nil, fmt.Errorf("bzImage truncated: syssize (0x1F4) is %d paragraphs (%d bytes) but the protected-mode kernel is %d bytes", syssize, want, kernelSize)
	}

	img := &BzImage{
		Version:           v,
		SetupSects:        sects,
		Loadflags:         loadflags,
		XLoadflags:        xloadflags,
		CmdlineSize:       le.Uint32(data[offCmdlineSize:]),
		InitrdAddrMax:     le.Uint32(data[offInitrdAddrMax:]),
		KernelAlignment:   le.Uint32(data[offKernelAlignment:]),
		RelocatableKernel: data[offRelocatableKernel] != 0,
		Header:            data[offSetupSects:end:end],
		KernelOffset:      uint64(setupLen),
		KernelSize:        kernelSize,
	}
	if v >= minVersionPrefAddress {
		img.PrefAddress = le.Uint64(data[offPrefAddress:])
		img.InitSize = le.Uint32(data[offInitSize:])
	}
	return img, nil
}

// MemSize returns how many bytes from the kernel's runtime start address the
// kernel occupies during early boot: the larger of init_size and the
// protected-mode kernel's length (boot.rst: 'Field name: init_size'). A loader
// keeps the initrd, command line and zero page out of that range.
func (b *BzImage) MemSize() uint64 {
	return max(uint64(b.InitSize), b.KernelSize)
}

// versionString formats a protocol version as "major.minor", e.g. 0x020F as
// "2.15".
func versionString(v uint16) string {
	return fmt.Sprintf("%d.%02d", v>>8, v&0xFF)
}
