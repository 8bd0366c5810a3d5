package machine

// Every guest-physical address govmm uses, in one place (as Firecracker's
// layout.rs). The picture, low to high:
//
//	0x0000_0000  real-mode IVT and BIOS data area (left zero)
//	0x0000_0500  boot GDT (gdtEntries descriptors)
//	0x0000_0700  boot IDT (limit 0: any exception in a raw guest triple-faults)
//	0x0000_1000  TSS and its I/O permission bitmap (all ports open), to 0x3069
//	0x0000_6000  PVH: struct hvm_start_info, module list, memory map
//	0x0000_7000  Linux zero page (struct boot_params)
//	0x0000_8000  top of the raw guest's stack (grows down)
//	0x0000_9000  PML4, then PDPT at 0xA000, then four PDs at 0xB000-0xEFFF:
//	             an identity map of the first 4 GiB with 2 MiB pages
//	0x0001_0000  default load address of a raw guest (-raw-addr)
//	0x0002_0000  kernel command line (cmdlineMax bytes)
//	0x0009_FC00  end of base memory; legacy hole follows      e820 reserved
//	0x000E_0000  ACPI tables: RSDP, DSDT, FADT, MADT, XSDT    e820 reserved
//	0x000F_0000  MP table (in the BIOS area Linux scans)      e820 reserved
//	0x000F_FFF0  reset vector (f000:fff0): a stub that resets through the i8042
//	0x0010_0000  kernel: bzImage protected-mode code, or vmlinux PT_LOADs
//	    ...      initrd, placed at the top of low RAM
//	0xC000_0000  PCI MMIO window (BARs)                       e820 reserved
//	0xFEC0_0000  IOAPIC (in-kernel irqchip)                   e820 reserved
//	0xFEE0_0000  local APICs (in-kernel irqchip)              e820 reserved
//	0xFFFB_C000  VT-x identity-map page, then the 3-page real-mode TSS
//	0x1_0000_0000 RAM above 4 GiB, when -m exceeds the low-RAM limit
const (
	// gdtAddr holds the boot GDT; idtAddr an empty IDT.
	gdtAddr = 0x500
	idtAddr = 0x700
	// tssAddr is the 64-bit TSS the GDT names, with an all-zero I/O
	// permission bitmap (every port allowed at CPL 3) up to 0x3069.
	tssAddr = 0x1000

	// startInfoAddr is the PVH struct hvm_start_info; the module list and
	// the memory map follow it inside the same page.
	startInfoAddr = 0x6000
	modlistAddr   = 0x6100
	memmapAddr    = 0x6200
	memmapMax     = (0x7000 - memmapAddr) / 24 // hvm_memmap_table_entry is 24 bytes

	// zeroPageAddr is struct boot_params for the 64-bit Linux boot protocol.
	zeroPageAddr = 0x7000

	// rawStackTop is the initial RSP/SP of a raw guest.
	rawStackTop = 0x8000

	// Identity-mapping page tables.
	pml4Addr = 0x9000
	pdptAddr = 0xA000
	pdAddr   = 0xB000 // four page directories, one per GiB
	pdCount  = 4

	// rawDefaultAddr is where -raw loads a flat binary unless -raw-addr says
	// otherwise.
	rawDefaultAddr = 0x10000

	// cmdlineAddr holds the NUL-terminated kernel command line.
	cmdlineAddr = 0x20000
	cmdlineMax  = 0x10000

	// mptableAddr is the MP floating pointer and table. Intel MP spec 1.4
	// §4 allows the BIOS ROM area 0xF0000-0xFFFFF, which Linux scans; the
	// last KiB of base memory would hold only 40 CPUs.
	mptableAddr = 0xF0000
	mptableMax  = resetVectorAddr - mptableAddr
	// resetVectorAddr is where an x86 CPU starts after a reset: f000:fff0,
	// physical 0xFFFF0. There is no BIOS; every guest gets a stub there
	// (resetStub, unless a raw image covers it) so that a reboot through the BIOS (Linux's
	// machine_real_restart, which Debian's kernels choose on a
	// hardware-reduced ACPI machine without EFI) ends the run.
	resetVectorAddr = 0xFFFF0
	// acpiAddr is the ACPI RSDP, followed by the other tables (package
	// acpi). ACPI 6.5 §5.2.5.1: on IA-PC the OS scans 0xE0000-0xFFFFF for
	// the RSDP; the 64 KiB below the MP table end where it starts.
	acpiAddr = 0xE0000
	acpiMax  = mptableAddr - acpiAddr
	// lowRAMEnd is where base memory stops: the legacy hole follows.
	lowRAMEnd = 0x9FC00
	// legacyHoleEnd is the end of the VGA/BIOS hole.
	legacyHoleEnd = 0x100000

	// kernelAddr is the load address of the 64-bit kernel (boot.rst: the
	// protected-mode kernel is loaded at 0x100000 when LOADED_HIGH is set).
	kernelAddr = 0x100000

	// pciMMIOBase and pciMMIOSize delimit the PCI BAR window; RAM below
	// 4 GiB stops at pciMMIOBase.
	pciMMIOBase = 0xC000_0000
	pciMMIOSize = 0x1000_0000
	// lowRAMLimit is the highest address low RAM may reach.
	lowRAMLimit = pciMMIOBase

	ioapicAddr = 0xFEC0_0000
	lapicAddr  = 0xFEE0_0000
	// apicRegionEnd ends the reserved APIC range in e820.
	apicRegionEnd = 0xFEF0_0000

	// identityMapAddr and tssRegionAddr are the pages KVM needs on VT-x
	// hosts to run real mode (KVM_SET_IDENTITY_MAP_ADDR, KVM_SET_TSS_ADDR).
	identityMapAddr = 0xFFFB_C000
	tssRegionAddr   = 0xFFFB_D000

	// highRAMBase is where RAM beyond lowRAMLimit continues.
	highRAMBase = 0x1_0000_0000

	// minMemory is the smallest -m govmm accepts: the fixed low structures
	// plus room for a raw guest.
	minMemory = 2 << 20
)

// Legacy I/O ports.
const (
	com1Port  = 0x3F8
	com1IRQ   = 4
	i8042Data = 0x60
	i8042Cmd  = 0x64
	cmosIndex = 0x70 // MC146818 CMOS RTC: index (bit 7 masks NMI)
	cmosData  = 0x71 // and data
	rtcIRQ    = 8
)

// ACPI power-management registers (devices/acpipm), one byte each, named by
// the FADT: SLEEP_CONTROL_REG at acpiPMPort, SLEEP_STATUS_REG at
// acpiPMPort+1, RESET_REG at acpiPMPort+2 (0x600-0x602: no PC device
// decodes them).
const acpiPMPort = 0x600

// i8042KbdIRQ is the ISA IRQ the DSDT gives the i8042 keyboard port, as on
// every PC; govmm's i8042 raises it to answer a byte for the absent
// keyboard (devices/i8042), and the MP table routes it.
const i8042KbdIRQ = 1
