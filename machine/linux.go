package machine

import (
	"fmt"
	"math"
	"strings"

	"github.com/govmm/govmm/bootparam"
	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/memory"
	"github.com/govmm/govmm/mptable"
)

// loadKernel loads a Linux kernel, choosing the boot path from the file's
// magic: a bzImage boots through the 64-bit boot protocol, an ELF vmlinux
// through its PVH entry point (which skips the decompressor).
func (m *Machine) loadKernel() error {
	data, err := readFile("-kernel", m.cfg.Kernel)
	if err != nil {
		return err
	}
	cmdline := m.cmdline()
	e820, err := m.e820()
	if err != nil {
		return err
	}
	if err := m.writeMPTable(); err != nil {
		return err
	}
	switch {
	case bootparam.IsELF(data):
		return m.loadPVH(data, cmdline, e820)
	case bootparam.IsBzImage(data):
		return m.loadBzImage(data, cmdline, e820)
	}
	return fmt.Errorf("-kernel %s: neither a bzImage nor an ELF vmlinux", m.cfg.Kernel)
}

// cmdline is the user's command line plus, with compat on, the parameters
// that keep the kernel off instructions this host cannot emulate.
func (m *Machine) cmdline() string {
	parts := []string{strings.TrimSpace(m.cfg.Cmdline)}
	if m.compat {
		params, reasons := compat.KernelParams()
		for _, r := range reasons {
			m.logf("compat: kernel parameter %s", r)
		}
		parts = append(parts, params...)
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// e820 is the guest's memory map: RAM split around the legacy hole and the
// PCI window, with the MP table, the hole and the APIC pages reserved.
func (m *Machine) e820() ([]bootparam.E820Entry, error) {
	return bootparam.BuildE820(m.cfg.MemSize, lowRAMLimit, highRAMBase, []bootparam.E820Entry{
		{Addr: lowRAMEnd, Size: legacyHoleEnd - lowRAMEnd, Type: bootparam.E820Reserved},
		{Addr: pciMMIOBase, Size: pciMMIOSize, Type: bootparam.E820Reserved},
		{Addr: ioapicAddr, Size: apicRegionEnd - ioapicAddr, Type: bootparam.E820Reserved},
	})
}

// writeMPTable describes the CPUs and the IOAPIC (Intel MP spec 1.4), so
// that Linux finds them without ACPI. MP rather than an ACPI MADT: it is one
// small table with no AML, and Linux's mpparse reads everything govmm needs.
func (m *Machine) writeMPTable() error {
	c := mptable.Config{
		CPUs: m.cfg.CPUs, IOAPICAddr: ioapicAddr, LAPICAddr: lapicAddr, MaxSize: mptableMax, PCI: true,
	}
	for _, d := range m.virtio {
		c.PCIIRQs = append(c.PCIIRQs, mptable.PCIIRQ{Slot: d.slot, Pin: 0, IOAPICPin: d.gsi})
	}
	t, err := mptable.Build(mptableAddr, c)
	if err != nil {
		return fmt.Errorf("MP table: %w", err)
	}
	return m.mem.Write(mptableAddr, t)
}

// lowRAMTop is the end of RAM below 4 GiB.
func (m *Machine) lowRAMTop() uint64 { return min(m.cfg.MemSize, lowRAMLimit) }

// writeCmdline stores the NUL-terminated command line at cmdlineAddr.
func (m *Machine) writeCmdline(cmdline string) error {
	if len(cmdline)+1 > cmdlineMax {
		return fmt.Errorf("-append: the command line is %d bytes; govmm reserves %d", len(cmdline), cmdlineMax-1)
	}
	return m.mem.Write(cmdlineAddr, append([]byte(cmdline), 0))
}

// loadInitrd reads -initrd and places it as high as possible below
// min(RAM top, addrMax), above kernelEnd. It returns the address and size
// (0, 0 without an initrd).
func (m *Machine) loadInitrd(addrMax, kernelEnd uint64) (uint64, uint64, error) {
	if m.cfg.Initrd == "" {
		return 0, 0, nil
	}
	data, err := readFile("-initrd", m.cfg.Initrd)
	if err != nil {
		return 0, 0, err
	}
	addr, err := bootparam.PlaceInitrd(uint64(len(data)), m.lowRAMTop(), addrMax, kernelEnd)
	if err != nil {
		return 0, 0, fmt.Errorf("-initrd %s: %v (-m %d MiB)", m.cfg.Initrd, err, m.cfg.MemSize>>20)
	}
	if err := m.mem.Write(memory.GuestAddress(addr), data); err != nil {
		return 0, 0, fmt.Errorf("-initrd %s: %w", m.cfg.Initrd, err)
	}
	m.logf("initrd: %d bytes at %#x", len(data), addr)
	return addr, uint64(len(data)), nil
}

// loadBzImage follows the 64-bit boot protocol (boot.rst, "64-bit Boot
// Protocol"): the protected-mode kernel at 0x100000, a zero page in RSI,
// long mode on an identity map, entry at the load address + 0x200.
func (m *Machine) loadBzImage(data []byte, cmdline string, e820 []bootparam.E820Entry) error {
	img, err := bootparam.ParseBzImage(data)
	if err != nil {
		return fmt.Errorf("-kernel %s: %w", m.cfg.Kernel, err)
	}
	if err := bootparam.CheckCmdline(img, cmdline); err != nil {
		return fmt.Errorf("-append: %w", err)
	}
	kernelEnd := kernelAddr + img.MemSize()
	if kernelEnd > m.lowRAMTop() {
		return fmt.Errorf("-kernel %s: needs %d MiB from 1 MiB up; -m %d MiB is too small", m.cfg.Kernel, img.MemSize()>>20, m.cfg.MemSize>>20)
	}
	if err := m.mem.Write(kernelAddr, img.Kernel); err != nil {
		return err
	}
	if err := m.writeCmdline(cmdline); err != nil {
		return err
	}
	initrdAddr, initrdSize, err := m.loadInitrd(uint64(img.InitrdAddrMax), kernelEnd)
	if err != nil {
		return err
	}
	zp, err := bootparam.BuildZeroPage(img, bootparam.ZeroPageParams{
		CmdlineAddr: cmdlineAddr, InitrdAddr: initrdAddr, InitrdSize: initrdSize, E820: e820,
	})
	if err != nil {
		return fmt.Errorf("-kernel %s: %w", m.cfg.Kernel, err)
	}
	if err := m.mem.Write(zeroPageAddr, zp); err != nil {
		return err
	}
	if err := writeBootTables(m.mem, false); err != nil {
		return err
	}
	m.logf("bzImage: boot protocol %d.%02d, %d bytes at %#x, command line %q", img.Version>>8, img.Version&0xff, len(img.Kernel), kernelAddr, cmdline)
	return m.startBootCPU(func(s kvm.Sregs) kvm.Sregs { return longModeSregs(s, false) },
		kvm.Regs{RIP: kernelAddr + 0x200, RSI: zeroPageAddr, RFLAGS: rflagsReserved})
}

// loadPVH loads an ELF vmlinux's PT_LOAD segments at their physical
// addresses and enters its XEN_ELFNOTE_PHYS32_ENTRY in 32-bit protected mode
// with EBX pointing at struct hvm_start_info.
func (m *Machine) loadPVH(data []byte, cmdline string, e820 []bootparam.E820Entry) error {
	k, err := bootparam.ParseELF(data)
	if err != nil {
		return fmt.Errorf("-kernel %s: %w", m.cfg.Kernel, err)
	}
	for _, s := range k.Segments {
		if s.Paddr < legacyHoleEnd || s.Paddr+s.Memsz > m.lowRAMTop() || s.Paddr+s.Memsz < s.Paddr {
			return fmt.Errorf("-kernel %s: segment [%#x, +%#x) is outside low RAM 1 MiB-%d MiB (-m)", m.cfg.Kernel, s.Paddr, s.Memsz, m.lowRAMTop()>>20)
		}
		if err := m.mem.Write(memory.GuestAddress(s.Paddr), s.Data); err != nil {
			return err
		}
		if err := m.mem.Zero(memory.GuestAddress(s.Paddr+uint64(len(s.Data))), s.Memsz-uint64(len(s.Data))); err != nil {
			return err
		}
	}
	if err := m.writeCmdline(cmdline); err != nil {
		return err
	}
	// PVH enters in 32-bit mode: the initrd must lie below 4 GiB.
	initrdAddr, initrdSize, err := m.loadInitrd(math.MaxUint32, k.End())
	if err != nil {
		return err
	}
	if len(e820) > memmapMax {
		return fmt.Errorf("memory map has %d entries; at most %d fit", len(e820), memmapMax)
	}
	info := bootparam.StartInfoParams{
		CmdlinePaddr:  cmdlineAddr,
		MemmapPaddr:   memmapAddr,
		MemmapEntries: uint32(len(e820)),
	}
	if initrdSize > 0 {
		info.NrModules, info.ModlistPaddr = 1, modlistAddr
		if err := m.mem.Write(modlistAddr, bootparam.BuildModList([]bootparam.Module{{Paddr: initrdAddr, Size: initrdSize}})); err != nil {
			return err
		}
	}
	for addr, b := range map[uint64][]byte{
		startInfoAddr: bootparam.BuildStartInfo(info),
		memmapAddr:    bootparam.BuildMemMap(e820),
	} {
		if err := m.mem.Write(memory.GuestAddress(addr), b); err != nil {
			return err
		}
	}
	if err := writeBootTables(m.mem, false); err != nil {
		return err
	}
	m.logf("PVH: entry %#x, %d segments, command line %q", k.Entry, len(k.Segments), cmdline)
	return m.startBootCPU(protectedMode32Sregs, kvm.Regs{RIP: uint64(k.Entry), RBX: startInfoAddr, RFLAGS: rflagsReserved})
}

// startBootCPU sets VCPU 0's special registers through setSregs and then
// its general registers.
func (m *Machine) startBootCPU(setSregs func(kvm.Sregs) kvm.Sregs, regs kvm.Regs) error {
	cpu := m.vcpus[0].cpu
	sregs, err := cpu.Sregs()
	if err != nil {
		return err
	}
	if err := cpu.SetSregs(setSregs(sregs)); err != nil {
		return err
	}
	return cpu.SetRegs(regs)
}
