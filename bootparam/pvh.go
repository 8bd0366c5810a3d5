package bootparam

import "encoding/binary"

// struct hvm_start_info constants (start_info.h).
const (
	// StartInfoMagic is hvm_start_info.magic: "xEn3" with the 0x80 bit of
	// the "E" set (XEN_HVM_START_MAGIC_VALUE).
	StartInfoMagic = 0x336ec578
	// StartInfoVersion is the structure version BuildStartInfo writes;
	// version 1 adds memmap_paddr and memmap_entries.
	StartInfoVersion = 1
	// StartInfoSize is sizeof(struct hvm_start_info) for version 1.
	StartInfoSize = 56
	// ModlistEntrySize is sizeof(struct hvm_modlist_entry).
	ModlistEntrySize = 32
	// MemmapEntrySize is sizeof(struct hvm_memmap_table_entry).
	MemmapEntrySize = 24
)

// StartInfoParams are the fields of struct hvm_start_info. All addresses are
// guest physical and chosen by the caller.
type StartInfoParams struct {
	// Flags are the SIF_xxx flags; 0 for an unprivileged guest.
	Flags uint32
	// NrModules is the number of hvm_modlist_entry records at
	// ModlistPaddr (Linux uses the first as its initrd).
	NrModules    uint32
	ModlistPaddr uint64
	// CmdlinePaddr is the NUL-terminated command line, 0 for none.
	CmdlinePaddr uint64
	// RSDPPaddr is the ACPI RSDP, 0 to let the kernel scan for it.
	RSDPPaddr uint64
	// MemmapPaddr and MemmapEntries locate the hvm_memmap_table_entry
	// array; MemmapEntries 0 means no memory map.
	MemmapPaddr   uint64
	MemmapEntries uint32
}

// Module is one struct hvm_modlist_entry: a module (such as an initrd) loaded
// at Paddr with Size bytes and an optional command line at CmdlinePaddr.
type Module struct {
	Paddr        uint64
	Size         uint64
	CmdlinePaddr uint64
}

// BuildStartInfo returns the 56 bytes of a version 1 struct hvm_start_info
// (start_info.h), whose physical address the PVH entry point receives in
// %ebx.
func BuildStartInfo(p StartInfoParams) []byte {
	b := make([]byte, StartInfoSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], StartInfoMagic)
	le.PutUint32(b[4:], StartInfoVersion)
	le.PutUint32(b[8:], p.Flags)
	le.PutUint32(b[12:], p.NrModules)
	le.PutUint64(b[16:], p.ModlistPaddr)
	le.PutUint64(b[24:], p.CmdlinePaddr)
	le.PutUint64(b[32:], p.RSDPPaddr)
	le.PutUint64(b[40:], p.MemmapPaddr)
	le.PutUint32(b[48:], p.MemmapEntries)
	// b[52:56] is reserved and must be zero.
	return b
}

// BuildModList returns the array of struct hvm_modlist_entry for mods
// (start_info.h), 32 bytes each, reserved fields zero.
func BuildModList(mods []Module) []byte {
	b := make([]byte, len(mods)*ModlistEntrySize)
	le := binary.LittleEndian
	for i, m := range mods {
		e := b[i*ModlistEntrySize:]
		le.PutUint64(e[0:], m.Paddr)
		le.PutUint64(e[8:], m.Size)
		le.PutUint64(e[16:], m.CmdlinePaddr)
	}
	return b
}

// BuildMemMap returns the array of struct hvm_memmap_table_entry for the
// memory map (start_info.h), 24 bytes each. The types are the e820 types
// (XEN_HVM_MEMMAP_TYPE_RAM = E820RAM, ...); reserved fields are zero.
func BuildMemMap(entries []E820Entry) []byte {
	b := make([]byte, len(entries)*MemmapEntrySize)
	le := binary.LittleEndian
	for i, m := range entries {
		e := b[i*MemmapEntrySize:]
		le.PutUint64(e[0:], m.Addr)
		le.PutUint64(e[8:], m.Size)
		le.PutUint32(e[16:], m.Type)
	}
	return b
}
