package machine

import (
	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/memory"
)

// Control-register and EFER bits (Intel SDM vol. 3A, 2.5 and 2.2.1).
const (
	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0AM = 1 << 18
	cr0PG = 1 << 31

	cr4PAE = 1 << 5

	eferLME = 1 << 8
	eferLMA = 1 << 10

	rflagsReserved = 1 << 1 // bit 1 always reads 1
	rflagsIOPL3    = 3 << 12
)

// Boot GDT selectors. The Linux 64-bit boot protocol wants __BOOT_CS = 0x10
// and __BOOT_DS = 0x18 (boot.rst, "64-bit Boot Protocol"); PVH enters in
// 32-bit mode, so slot 1 is a flat 32-bit code segment.
const (
	selCode32   = 0x08
	selCode64   = 0x10
	selData     = 0x18
	selUserData = 0x20 | 3
	selUserCode = 0x28 | 3
	selTSS      = 0x30 // a 16-byte system descriptor: slots 6 and 7

	gdtEntries = 8
	// tssSize is the 104-byte TSS plus the I/O permission bitmap: one bit
	// per port (8 KiB) and the 0xff byte that must end it (SDM vol. 1, 19.5.2).
	tssSize   = tssHeader + 0x2000 + 1
	tssHeader = 0x68
)

// gdtEntry encodes a code or data descriptor from its flags (high nibble:
// G, D/B, L, AVL) and access byte (P, DPL, S, type), SDM vol. 3A 3.4.5.
func gdtEntry(flags, access uint8, base, limit uint32) uint64 {
	return uint64(limit&0xffff) | uint64(base&0xffffff)<<16 | uint64(access)<<40 |
		uint64((limit>>16)&0xf)<<48 | uint64(flags&0xf0)<<48 | uint64(base>>24)<<56
}

// bootGDT returns the boot GDT, including the two-slot 64-bit TSS descriptor.
func bootGDT() [gdtEntries]uint64 {
	var g [gdtEntries]uint64
	g[selCode32>>3] = gdtEntry(0xc0, 0x9b, 0, 0xfffff)      // 32-bit code, 4 GiB
	g[selCode64>>3] = gdtEntry(0xa0, 0x9b, 0, 0xfffff)      // 64-bit code (L=1)
	g[selData>>3] = gdtEntry(0xc0, 0x93, 0, 0xfffff)        // data, 4 GiB, read/write
	g[selUserData>>3] = gdtEntry(0xc0, 0xf3, 0, 0xfffff)    // data, DPL 3
	g[selUserCode>>3] = gdtEntry(0xa0, 0xfb, 0, 0xfffff)    // 64-bit code, DPL 3
	g[selTSS>>3] = gdtEntry(0x00, 0x8b, tssAddr, tssSize-1) // busy 64-bit TSS; base[63:32] = 0 in the next slot
	return g
}

// segment converts a GDT descriptor into the kvm_segment KVM wants.
func segment(sel uint16, desc uint64) kvm.Segment {
	limit := uint32(desc&0xffff) | uint32((desc>>48)&0xf)<<16
	g := uint8((desc >> 55) & 1)
	if g == 1 {
		limit = limit<<12 | 0xfff
	}
	return kvm.Segment{
		Base:     (desc>>16)&0xffffff | (desc>>56&0xff)<<24,
		Limit:    limit,
		Selector: sel,
		Type:     uint8((desc >> 40) & 0xf),
		S:        uint8((desc >> 44) & 1),
		DPL:      uint8((desc >> 45) & 3),
		Present:  uint8((desc >> 47) & 1),
		AVL:      uint8((desc >> 52) & 1),
		L:        uint8((desc >> 53) & 1),
		DB:       uint8((desc >> 54) & 1),
		G:        g,
	}
}

// writeBootTables writes the GDT, an empty IDT and the identity page tables.
// user sets the U/S bit in every paging entry so that CPL 3 may use them.
func writeBootTables(mem *memory.Memory, user bool) error {
	g := bootGDT()
	for i, d := range g {
		if err := mem.PutUint64(memory.GuestAddress(gdtAddr+8*i), d); err != nil {
			return err
		}
	}
	if err := mem.Zero(tssAddr, tssSize); err != nil {
		return err
	}
	// The I/O map base (TSS offset 0x66) points at a bitmap of zeros, so
	// CPL 3 may use every port even where the host does not keep IOPL.
	if err := mem.PutUint16(tssAddr+0x66, tssHeader); err != nil {
		return err
	}
	if err := mem.PutUint8(tssAddr+tssSize-1, 0xff); err != nil {
		return err
	}
	return writeIdentityPageTables(mem, user)
}

// Paging entry bits (SDM vol. 3A, 4.5).
const (
	ptePresent = 1 << 0
	pteWrite   = 1 << 1
	pteUser    = 1 << 2
	pteLarge   = 1 << 7 // PS: this PD entry maps a 2 MiB page
)

// writeIdentityPageTables maps virtual = physical for the first 4 GiB with
// 2 MiB pages: one PML4 entry, four PDPT entries, 4 x 512 PD entries.
func writeIdentityPageTables(mem *memory.Memory, user bool) error {
	flags := uint64(ptePresent | pteWrite)
	if user {
		flags |= pteUser
	}
	if err := mem.Zero(pml4Addr, 0x1000); err != nil {
		return err
	}
	if err := mem.PutUint64(pml4Addr, pdptAddr|flags); err != nil {
		return err
	}
	if err := mem.Zero(pdptAddr, 0x1000); err != nil {
		return err
	}
	for i := uint64(0); i < pdCount; i++ {
		pd := pdAddr + i*0x1000
		if err := mem.PutUint64(memory.GuestAddress(pdptAddr+8*i), pd|flags); err != nil {
			return err
		}
		for j := uint64(0); j < 512; j++ {
			phys := (i*512 + j) << 21
			if err := mem.PutUint64(memory.GuestAddress(pd+8*j), phys|flags|pteLarge); err != nil {
				return err
			}
		}
	}
	return nil
}

// longModeSregs returns special registers for 64-bit mode with paging on
// the identity map, at CPL 0 or, with user set, at CPL 3.
func longModeSregs(s kvm.Sregs, user bool) kvm.Sregs {
	g := bootGDT()
	code, data := segment(selCode64, g[selCode64>>3]), segment(selData, g[selData>>3])
	if user {
		code, data = segment(selUserCode, g[selUserCode>>3]), segment(selUserData, g[selUserData>>3])
	}
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.TR = segment(selTSS, g[selTSS>>3])
	s.GDT = kvm.DTable{Base: gdtAddr, Limit: gdtEntries*8 - 1}
	s.IDT = kvm.DTable{Base: idtAddr, Limit: 0}
	s.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0AM | cr0PG
	s.CR3 = pml4Addr
	s.CR4 = cr4PAE
	s.EFER = eferLME | eferLMA
	return s
}

// protectedMode32Sregs returns special registers for the PVH entry state:
// 32-bit protected mode, flat segments, paging off (xen/arch-x86/hvm/start_info.h).
func protectedMode32Sregs(s kvm.Sregs) kvm.Sregs {
	g := bootGDT()
	code, data := segment(selCode32, g[selCode32>>3]), segment(selData, g[selData>>3])
	s.CS = code
	s.DS, s.ES, s.FS, s.GS, s.SS = data, data, data, data, data
	s.TR = segment(selTSS, g[selTSS>>3])
	s.GDT = kvm.DTable{Base: gdtAddr, Limit: gdtEntries*8 - 1}
	s.IDT = kvm.DTable{Base: idtAddr, Limit: 0}
	s.CR0 = cr0PE | cr0ET
	s.CR3, s.CR4, s.EFER = 0, 0, 0
	return s
}

// realModeSregs points CS at the 64 KiB segment holding addr; the caller sets
// IP to addr - CS.base. The other segments start at 0.
func realModeSregs(s kvm.Sregs, addr uint64) kvm.Sregs {
	sel := uint16(addr >> 4)
	s.CS.Selector, s.CS.Base = sel, uint64(sel)<<4
	for _, seg := range []*kvm.Segment{&s.DS, &s.ES, &s.FS, &s.GS, &s.SS} {
		seg.Selector, seg.Base = 0, 0
	}
	return s
}
