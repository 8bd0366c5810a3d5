package machine

import (
	"fmt"
	"math"
	"strings"

	"github.com/govmm/govmm/bootparam"
	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/mptable"
)

// maxKernelFile bounds how much of -kernel govmm reads: an ELF vmlinux with
// debug information is far larger than what it loads, but not this large.
const maxKernelFile = 4 << 30

// kernelProbe is how many bytes of -kernel planKernel reads to tell a
// bzImage (magic at 0x202) from an ELF vmlinux (magic at 0).
const kernelProbe = 0x210

// planKernel opens -kernel and lays out a Linux boot, choosing the boot path
// from the file's magic: a bzImage boots through the 64-bit boot protocol,
// an ELF vmlinux through its PVH entry point (which skips the decompressor).
// Only the headers are read now; the bytes to load are planned as ranges of
// the file (input.chunk).
func (p *Plan) planKernel() error {
	in, err := openInput("-kernel", p.cfg.Kernel, maxKernelFile, "a kernel can be (4 GiB)")
	if err != nil {
		return err
	}
	defer in.Close()
	head := make([]byte, min(kernelProbe, in.size))
	if n, err := in.r.ReadAt(head, 0); n < len(head) {
		return fileError("-kernel", p.cfg.Kernel, err)
	}
	e820, err := p.e820()
	if err != nil {
		return err
	}
	switch {
	case bootparam.IsELF(head):
		return p.planPVH(in, e820)
	case bootparam.IsBzImage(head):
		return p.planBzImage(in, e820)
	}
	return fmt.Errorf("-kernel %s: neither a bzImage nor an ELF vmlinux", p.cfg.Kernel)
}

// cmdline is the user's command line preceded, with compat on, by the
// parameters that keep the kernel off instructions this host cannot
// emulate (each one is logged with -v). added is how many bytes compat
// added. govmm's parameters go first so that the user's -append wins:
// parse_args (kernel/params.c) hands every occurrence of a parameter to its
// handler in order, so for most parameters the last one given counts; and
// whatever follows "--" goes to init, not to the kernel (init/main.c), so
// nothing may be appended after the user's text.
func (p *Plan) cmdline() (cmdline string, added int) {
	user := strings.TrimSpace(p.cfg.Cmdline)
	var parts []string
	if p.compat {
		params, reasons := compat.KernelParams()
		for _, r := range reasons {
			p.notef("compat: kernel parameter %s", r)
		}
		parts = append(parts, params...)
	}
	parts = append(parts, user)
	cmdline = strings.TrimSpace(strings.Join(parts, " "))
	return cmdline, len(cmdline) - len(user)
}

// cmdlineError names -append in err and says when compat made the command
// line too long.
func cmdlineError(err error, added int) error {
	if added > 0 {
		return fmt.Errorf("-append: %w (%d bytes of it are -compat parameters)", err, added)
	}
	return fmt.Errorf("-append: %w", err)
}

// planCmdline stores the NUL-terminated command line at cmdlineAddr.
func (p *Plan) planCmdline(cmdline string, added int) error {
	if len(cmdline)+1 > cmdlineMax {
		return cmdlineError(fmt.Errorf("the command line is %d bytes; govmm reserves %d", len(cmdline), cmdlineMax-1), added)
	}
	if i := strings.IndexByte(cmdline, 0); i >= 0 {
		return cmdlineError(fmt.Errorf("the command line contains a NUL byte at offset %d", i), added)
	}
	p.add(cmdlineAddr, append([]byte(cmdline), 0), 0)
	return nil
}

// e820 is the guest's memory map: RAM split around the legacy hole and the
// PCI window, with the MP table, the hole and the APIC pages reserved. The
// hole's entry covers the ACPI tables too (acpiAddr), so the OS never uses
// them as RAM.
func (p *Plan) e820() ([]bootparam.E820Entry, error) {
	return bootparam.BuildE820(p.cfg.MemSize, lowRAMLimit, highRAMBase, []bootparam.E820Entry{
		{Addr: lowRAMEnd, Size: legacyHoleEnd - lowRAMEnd, Type: bootparam.E820Reserved},
		{Addr: pciMMIOBase, Size: pciMMIOSize, Type: bootparam.E820Reserved},
		{Addr: ioapicAddr, Size: apicRegionEnd - ioapicAddr, Type: bootparam.E820Reserved},
	})
}

// writeMPTable describes the CPUs and the IOAPIC (Intel MP spec 1.4), so
// that Linux finds them without ACPI (-acpi=off, or acpi=off on the kernel
// command line); with ACPI, Linux reads the MADT instead, which says the
// same (acpi.go). It is written when the machine is built, because it lists
// the PCI slots and INTx pins the devices got (the device manager's
// intxRoutes, which the DSDT's _PRT lists too).
func (m *Machine) writeMPTable() error {
	c := mptable.Config{
		CPUs: m.cfg.CPUs, IOAPICAddr: ioapicAddr, LAPICAddr: lapicAddr, MaxSize: mptableMax, PCI: true,
	}
	for _, r := range m.devs.intxRoutes() {
		c.PCIIRQs = append(c.PCIIRQs, mptable.PCIIRQ{Slot: r.slot, Pin: r.pin, IOAPICPin: uint8(r.gsi)})
	}
	t, err := mptable.Build(mptableAddr, c)
	if err != nil {
		return fmt.Errorf("MP table: %w", err)
	}
	return m.mem.Write(mptableAddr, t)
}

// planInitrd places -initrd (or Config.InitrdImage) as high as possible
// below min(low RAM top, addrMax), above kernelEnd. It returns the address
// and size (0, 0 without an initrd). A regular file is not read now, only
// opened and sized: load reads it into guest memory.
func (p *Plan) planInitrd(addrMax, kernelEnd uint64) (uint64, uint64, error) {
	if p.cfg.Initrd == "" && p.cfg.InitrdImage == nil {
		return 0, 0, nil
	}
	in, name := &input{data: p.cfg.InitrdImage, size: int64(len(p.cfg.InitrdImage))}, "(in memory)"
	if p.cfg.InitrdImage == nil {
		what := fmt.Sprintf("guest RAM (-m %d MiB)", p.cfg.MemSize>>20)
		if p.cfg.MemSize > lowRAMLimit {
			what = fmt.Sprintf("the %d MiB of RAM below the PCI hole, where the initrd goes", lowRAMLimit>>20)
		}
		var err error
		if in, err = openInput("-initrd", p.cfg.Initrd, p.lowRAMTop(), what); err != nil {
			return 0, 0, err
		}
		defer in.Close()
		name = p.cfg.Initrd
	}
	size := uint64(in.size)
	addr, err := bootparam.PlaceInitrd(size, p.lowRAMTop(), addrMax, kernelEnd)
	if err != nil {
		return 0, 0, fmt.Errorf("-initrd %s: %v (-m %d MiB)", name, err, p.cfg.MemSize>>20)
	}
	p.addInput(addr, in, 0, size, 0)
	p.loadedf("initrd: %d bytes at %#x", size, addr)
	return addr, size, nil
}

// planBzImage follows the 64-bit boot protocol (boot.rst, "64-bit Boot
// Protocol"): the protected-mode kernel at 0x100000, a zero page in RSI,
// long mode on an identity map, entry at the load address + 0x200.
func (p *Plan) planBzImage(in *input, e820 []bootparam.E820Entry) error {
	img, err := bootparam.ParseBzImage(in.r, in.size)
	if err != nil {
		return fmt.Errorf("-kernel %s: %w", p.cfg.Kernel, err)
	}
	cmdline, added := p.cmdline()
	if err := bootparam.CheckCmdline(img, cmdline); err != nil {
		return cmdlineError(err, added)
	}
	kernelEnd := kernelAddr + img.MemSize()
	if kernelEnd > p.lowRAMTop() {
		return fmt.Errorf("-kernel %s: needs %d MiB from 1 MiB up; -m %d MiB is too small", p.cfg.Kernel, img.MemSize()>>20, p.cfg.MemSize>>20)
	}
	p.addInput(kernelAddr, in, img.KernelOffset, img.KernelSize, 0)
	if err := p.planCmdline(cmdline, added); err != nil {
		return err
	}
	initrdAddr, initrdSize, err := p.planInitrd(uint64(img.InitrdAddrMax), kernelEnd)
	if err != nil {
		return err
	}
	zp, err := bootparam.BuildZeroPage(img, bootparam.ZeroPageParams{
		CmdlineAddr: cmdlineAddr, InitrdAddr: initrdAddr, InitrdSize: initrdSize, E820: e820,
	})
	if err != nil {
		return fmt.Errorf("-kernel %s: %w", p.cfg.Kernel, err)
	}
	p.add(zeroPageAddr, zp, 0)
	p.entry = entry{mode: entryLong, regs: kvm.Regs{RIP: kernelAddr + bootparam.Entry64Offset, RSI: zeroPageAddr, RFLAGS: rflagsReserved}}
	p.loadedf("bzImage: boot protocol %d.%02d, %d bytes at %#x, command line %q", img.Version>>8, img.Version&0xff, img.KernelSize, kernelAddr, cmdline)
	return nil
}

// planPVH loads an ELF vmlinux's PT_LOAD segments at their physical
// addresses and enters its XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode
// with EBX pointing at struct hvm_start_info.
func (p *Plan) planPVH(in *input, e820 []bootparam.E820Entry) error {
	k, err := bootparam.ParseELF(in.r, in.size)
	if err != nil {
		return fmt.Errorf("-kernel %s: %w", p.cfg.Kernel, err)
	}
	for _, s := range k.Segments {
		if s.Paddr < legacyHoleEnd || s.Paddr+s.Memsz > p.lowRAMTop() || s.Paddr+s.Memsz < s.Paddr || s.Filesz > s.Memsz {
			return fmt.Errorf("-kernel %s: segment [%#x, +%#x) is outside low RAM 1 MiB-%d MiB (-m)", p.cfg.Kernel, s.Paddr, s.Memsz, p.lowRAMTop()>>20)
		}
		p.addInput(s.Paddr, in, s.Offset, s.Filesz, s.Memsz-s.Filesz)
	}
	cmdline, added := p.cmdline()
	if err := p.planCmdline(cmdline, added); err != nil {
		return err
	}
	// PVH enters in 32-bit mode: the initrd must lie below 4 GiB.
	initrdAddr, initrdSize, err := p.planInitrd(math.MaxUint32, k.End())
	if err != nil {
		return err
	}
	if len(e820) > memmapMax {
		return fmt.Errorf("-m %d MiB: the memory map has %d entries; at most %d fit", p.cfg.MemSize>>20, len(e820), memmapMax)
	}
	info := bootparam.StartInfoParams{
		CmdlinePaddr:  cmdlineAddr,
		MemmapPaddr:   memmapAddr,
		MemmapEntries: uint32(len(e820)),
	}
	if p.cfg.ACPI {
		info.RSDPPaddr = acpiAddr
	}
	if initrdSize > 0 {
		info.NrModules, info.ModlistPaddr = 1, modlistAddr
		p.add(modlistAddr, bootparam.BuildModList([]bootparam.Module{{Paddr: initrdAddr, Size: initrdSize}}), 0)
	}
	p.add(startInfoAddr, bootparam.BuildStartInfo(info), 0)
	p.add(memmapAddr, bootparam.BuildMemMap(e820), 0)
	p.entry = entry{mode: entryPVH32, regs: kvm.Regs{RIP: uint64(k.Entry), RBX: startInfoAddr, RFLAGS: rflagsReserved}}
	p.loadedf("PVH: entry %#x, %d segments, command line %q", k.Entry, len(k.Segments), cmdline)
	return nil
}
