package bootparam

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// E820 memory types, shared by struct boot_e820_entry and struct
// hvm_memmap_table_entry (start_info.h: XEN_HVM_MEMMAP_TYPE_*).
const (
	E820RAM      = 1 // usable RAM
	E820Reserved = 2 // reserved, not usable
	E820ACPI     = 3 // ACPI tables, reclaimable after boot
	E820NVS      = 4 // ACPI non-volatile storage
	E820Unusable = 5 // defective memory
)

// MaxE820Entries is the capacity of boot_params.e820_table
// (bootparam.h: E820_MAX_ENTRIES_ZEROPAGE).
const MaxE820Entries = 128

// e820EntrySize is sizeof(struct boot_e820_entry): u64 addr, u64 size,
// u32 type, packed.
const e820EntrySize = 20

// E820Entry is one memory map entry: the range [Addr, Addr+Size) has memory
// type Type (E820RAM, ...).
type E820Entry struct {
	Addr uint64
	Size uint64
	Type uint32
}

// End returns the first address after the entry.
func (e E820Entry) End() uint64 { return e.Addr + e.Size }

// BuildE820 builds a sorted e820 table for a guest with ramSize bytes of RAM.
// RAM fills [0, lowMemTop); whatever does not fit below lowMemTop continues at
// highMemBase (the hole between them is typically the 32-bit MMIO window).
// Each reserved entry is carved out of the RAM it overlaps and listed with its
// own type; reserved entries outside RAM are listed as they are. Adjacent
// entries of the same type are merged. All addresses come from the caller.
//
// It fails if a reserved entry is empty, wraps around, or overlaps another,
// if highMemBase < lowMemTop while RAM extends above lowMemTop, or if the
// table would exceed MaxE820Entries.
func BuildE820(ramSize, lowMemTop, highMemBase uint64, reserved []E820Entry) ([]E820Entry, error) {
	var ram []E820Entry
	low := min(ramSize, lowMemTop)
	if low > 0 {
		ram = append(ram, E820Entry{Addr: 0, Size: low, Type: E820RAM})
	}
	if high := ramSize - low; high > 0 {
		if highMemBase < lowMemTop {
			return nil, fmt.Errorf("e820: high memory base 0x%X is below the low memory top 0x%X", highMemBase, lowMemTop)
		}
		if highMemBase+high < highMemBase {
			return nil, fmt.Errorf("e820: %d bytes of RAM at 0x%X wrap around the address space", high, highMemBase)
		}
		ram = append(ram, E820Entry{Addr: highMemBase, Size: high, Type: E820RAM})
	}

	res := slices.Clone(reserved)
	slices.SortFunc(res, func(a, b E820Entry) int { return cmp.Compare(a.Addr, b.Addr) })
	for i, r := range res {
		if r.Size == 0 {
			return nil, fmt.Errorf("e820: reserved range at 0x%X is empty", r.Addr)
		}
		if r.End() < r.Addr {
			return nil, fmt.Errorf("e820: reserved range 0x%X+0x%X wraps around the address space", r.Addr, r.Size)
		}
		if i > 0 && res[i-1].End() > r.Addr {
			return nil, fmt.Errorf("e820: reserved ranges [0x%X, 0x%X) and [0x%X, 0x%X) overlap", res[i-1].Addr, res[i-1].End(), r.Addr, r.End())
		}
	}

	// Punch every reserved range out of the RAM entries.
	for _, r := range res {
		var next []E820Entry
		for _, m := range ram {
			if r.End() <= m.Addr || r.Addr >= m.End() {
				next = append(next, m)
				continue
			}
			if m.Addr < r.Addr {
				next = append(next, E820Entry{Addr: m.Addr, Size: r.Addr - m.Addr, Type: m.Type})
			}
			if r.End() < m.End() {
				next = append(next, E820Entry{Addr: r.End(), Size: m.End() - r.End(), Type: m.Type})
			}
		}
		ram = next
	}

	table := append(ram, res...)
	slices.SortFunc(table, func(a, b E820Entry) int { return cmp.Compare(a.Addr, b.Addr) })
	var out []E820Entry
	for _, e := range table {
		if n := len(out); n > 0 && out[n-1].Type == e.Type && out[n-1].End() == e.Addr {
			out[n-1].Size += e.Size
			continue
		}
		out = append(out, e)
	}
	if len(out) > MaxE820Entries {
		return nil, fmt.Errorf("e820: table has %d entries, the zero page holds at most %d", len(out), MaxE820Entries)
	}
	return out, nil
}

// putE820 encodes e as a struct boot_e820_entry into b[:20].
func putE820(b []byte, e E820Entry) {
	binary.LittleEndian.PutUint64(b[0:], e.Addr)
	binary.LittleEndian.PutUint64(b[8:], e.Size)
	binary.LittleEndian.PutUint32(b[16:], e.Type)
}
