// Package acpi builds the minimal ACPI 6.5 tables a Linux guest needs to
// find its CPUs, interrupt controllers and PCI bus and to power off and
// reboot through ACPI: RSDP, XSDT, FADT, DSDT and MADT. Like mptable, it is
// pure: Build returns bytes, the machine writes them.
//
// References in comments are to the ACPI Specification 6.5 ("§x"); Linux
// reads the tables through ACPICA (drivers/acpi/acpica) and
// arch/x86/kernel/acpi/boot.c.
//
// # Hardware-reduced ACPI
//
// The FADT sets HW_REDUCED_ACPI (§4.1, §5.2.9): there are no fixed
// hardware register blocks (no PM1 event/control blocks, no PM timer, no
// GPE blocks), no SCI and no FACS. Power-off goes through the FADT's
// SLEEP_CONTROL_REG (§4.8.3.7) and SLEEP_STATUS_REG (§4.8.3.8), reboot
// through RESET_REG (§4.8.3.6), as Cloud Hypervisor and Firecracker do.
// The fixed-hardware model would need a PM1 event block with status and
// enable bits, an SCI wired to an I/O APIC pin (level, active low) and an
// ACPI mode switch; none of it serves a guest that only needs to power off.
//
// A consequence in Linux (acpi_generic_reduced_hw_init): on a
// hardware-reduced platform it does not use the legacy 8259 PIC and does
// not set up the PIT as its timer; the local APIC timer and kvm-clock do the
// work.
//
// # Layout
//
// Build returns one block to place at one guest-physical address: the RSDP
// first (16-byte aligned, §5.2.5.1), then DSDT, FADT, MADT and XSDT, each
// 16-byte aligned. The RSDP must lie where Linux scans for it (0xE0000 to
// 0xFFFFF) unless the boot protocol passes its address.
//
// # Interrupts
//
// The MADT says what the MP table says (package mptable): ISA IRQ n is I/O
// APIC pin n (GSI n, the I/O APIC's GSI base is 0), edge-triggered, active
// high, including IRQ 0, because that is KVM's default GSI routing, where the
// in-kernel PIT raises GSI 0 (real PCs and QEMU route IRQ 0 to pin 2
// instead).
//
// ISA IRQs 1-15 each get an Interrupt Source Override (§5.2.12.5), identity
// mapped with the bus's own flags, exactly like the MP table's ISA entries.
// They look redundant, but on a hardware-reduced platform Linux drops the
// legacy PIC and with it the identity mappings it otherwise assumes for
// IRQs 0-15 (mp_config_acpi_legacy_irqs loops over nr_legacy_irqs(), now
// 0): the overrides are then what sets up I/O APIC pins 1-15 as ISA pins,
// edge-triggered, active high, as the MP table has them. IRQ 0 gets
// none: a hardware-reduced FADT's SCI_INT is 0, and Linux takes any
// override of IRQ 0 for the SCI's, making it level-triggered, active low
// (acpi_parse_int_src_ovr). Nothing needs IRQ 0 there: a hardware-reduced
// Linux does not use the PIT as its timer.
//
// The overrides are not enough for the legacy devices: on a
// hardware-reduced platform Linux gives the I/O APIC dynamic IRQ numbers
// (the "legacy" domain with IRQ n = GSI n exists only when there is a legacy
// PIC), so a driver that asks for IRQ 4 by number, as the 8250 driver does
// for its built-in COM1, finds no such IRQ, and its port never transmits.
// Config.ISA therefore lists the ISA devices as ACPI devices (_HID, _CRS
// with their ports and IRQ, §6.2.2, §6.4.2.1) in \_SB: Linux's PnP ACPI
// layer maps each IRQ through the I/O APIC and hands the driver the number
// it got (COM1 through 8250_pnp, the i8042 through its PnP probe, the RTC
// through rtc_cmos's).
//
// # PCI
//
// With ACPI, Linux scans only the PCI buses the DSDT describes (there is no
// legacy probe of bus 0), so Config.PCI puts the host bridge in the DSDT:
// \_SB.PCI0 with bus 0, its I/O and BAR windows in _CRS, and the INTx lines
// in _PRT, as the MP table's PCI interrupt entries describe them.
package acpi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Table signatures (§5.2.5.3, §5.2.8, §5.2.9, §5.2.11.1, §5.2.12).
const (
	SigRSDP = "RSD PTR "
	SigXSDT = "XSDT"
	SigFADT = "FACP"
	SigDSDT = "DSDT"
	SigMADT = "APIC"
)

// Field values common to every table header (§5.2.6).
const (
	oemID           = "GOVMM "
	oemTableID      = "GOVMMVM "
	oemRevision     = 1
	creatorID       = "GOVM"
	creatorRevision = 1
	headerSize      = 36
	align           = 16
)

// Table revisions and sizes.
const (
	rsdpRevision  = 2  // ACPI 2.0+: XSDT address and extended checksum (§5.2.5.3)
	rsdpSize      = 36 // §5.2.5.3, Table 5.3
	rsdpV1Size    = 20 // the part the first checksum covers
	xsdtRevision  = 1  // §5.2.8
	fadtRevision  = 6  // FADT major version for ACPI 6.x (§5.2.9)
	fadtMinor     = 5  // ACPI 6.5
	fadtSize      = 276
	dsdtRevision  = 2 // 64-bit AML integers (§5.2.11.1)
	madtRevision  = 5 // ACPI 6.2+ (§5.2.12)
	madtFixedSize = headerSize + 8
)

// FADT Flags (§5.2.9, Table 5.10) and IA-PC boot architecture flags
// (§5.2.9.3, Table 5.11).
const (
	fadtWBINVD          = 1 << 0
	fadtPwrButton       = 1 << 4 // no fixed-feature power button
	fadtSlpButton       = 1 << 5 // no fixed-feature sleep button
	fadtResetRegSup     = 1 << 10
	fadtHWReducedACPI   = 1 << 20
	fadtFlags           = fadtWBINVD | fadtPwrButton | fadtSlpButton | fadtResetRegSup | fadtHWReducedACPI
	bootLegacyDevices   = 1 << 0 // the UART and the i8042 are ISA-style devices
	bootHas8042         = 1 << 1
	bootVGANotPresent   = 1 << 2
	fadtIAPCBootArch    = bootLegacyDevices | bootHas8042 | bootVGANotPresent
	gasSystemIO         = 1 // Generic Address Structure address space (§5.2.3.2)
	gasAccessByte       = 1
	sleepTypeS5         = 5 // SLP_TYP the DSDT's \_S5_ gives for S5
	defaultResetValue   = 1
	madtPCATCompat      = 1 << 0 // the machine has dual 8259s (KVM's in-kernel PIC)
	madtLAPICEnabled    = 1 << 0
	madtTypeLAPIC       = 0 // §5.2.12.2
	madtTypeIOAPIC      = 1 // §5.2.12.3
	madtTypeOverride    = 2 // §5.2.12.5
	madtTypeLAPICNMI    = 4 // §5.2.12.7
	madtAllProcessors   = 0xFF
	madtFlagsConforming = 0x0000 // MPS INTI flags: "conforms to the bus" (§5.2.12.5, Table 5.50)
	madtNMILINT         = 1      // NMI on LINT1, as the MP table says
	isaIRQs             = 16
)

// Sleep control and status register bits (§4.8.3.7, §4.8.3.8).
const (
	// SleepTypeShift and SleepTypeMask locate SLP_TYPx in the sleep
	// control register; SleepEnable is SLP_EN.
	SleepTypeShift = 2
	SleepTypeMask  = 0x7 << SleepTypeShift
	SleepEnable    = 1 << 5
	// SleepTypeS5 is the SLP_TYP value \_S5_ names (soft off).
	SleepTypeS5 = sleepTypeS5
	// WakeStatus is WAK_STS in the sleep status register (write 1 to clear).
	WakeStatus = 1 << 7
)

// PCIIRQ wires one PCI INTx line of a device on bus 0 to a GSI, as
// mptable.PCIIRQ does.
type PCIIRQ struct {
	// Slot is the PCI device number, 0..31.
	Slot uint8
	// Pin is INTA=0 .. INTD=3.
	Pin uint8
	// GSI is the I/O APIC input.
	GSI uint32
}

// ISADevice is a legacy device on the ISA bus, described in the DSDT as
// \_SB.<Name> so that the OS finds its ports and its IRQ.
type ISADevice struct {
	// Name is the ACPI name (up to 4 characters, such as "COM1"); HID its
	// PNP ID (such as "PNP0501"); UID its _UID.
	Name, HID string
	UID       uint8
	// Ports are the I/O port ranges it decodes.
	Ports []PortRange
	// IRQ is its ISA IRQ, or -1 for none.
	IRQ int
}

// PortRange is Len I/O ports from Base.
type PortRange struct {
	Base uint16
	Len  uint8
}

// PCI describes PCI bus 0's host bridge for the DSDT.
type PCI struct {
	// MMIOBase and MMIOSize are the BAR window (a _CRS memory range).
	MMIOBase, MMIOSize uint32
	// ConfigPort is configuration mechanism #1's first port (0xCF8); the
	// bridge consumes 8 ports there and forwards every other I/O port.
	ConfigPort uint16
	// IRQs are the INTx routes (_PRT).
	IRQs []PCIIRQ
}

// Config describes the machine the tables advertise.
type Config struct {
	// CPUs is the number of processors, 1..MaxCPUs, with local APIC IDs
	// 0..CPUs-1 (ACPI processor UIDs the same).
	CPUs int
	// LAPICAddr and IOAPICAddr are the MMIO bases of the local APICs and
	// the I/O APIC; IOAPICID is the I/O APIC's ID (the MP table's: CPUs).
	LAPICAddr, IOAPICAddr uint32
	IOAPICID              uint8
	// SleepControlPort, SleepStatusPort and ResetPort are the I/O ports
	// of SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG (one byte each).
	SleepControlPort, SleepStatusPort, ResetPort uint16
	// ResetValue is what the guest writes to ResetPort to reset (1 when 0).
	ResetValue uint8
	// Century is the CMOS RAM index of the RTC's century byte (the FADT's
	// CENTURY field; 0x32 on a PC), or 0 when there is none.
	Century uint8
	// PCI, if not nil, puts a PCI host bridge in the DSDT.
	PCI *PCI
	// ISA are the legacy devices the DSDT lists (see the package comment).
	ISA []ISADevice
	// MaxSize bounds the bytes Build returns (0: no bound).
	MaxSize int
}

// MaxCPUs is the most CPUs the MADT describes with 8-bit xAPIC IDs (0xFF is
// the broadcast ID and the I/O APIC needs one).
const MaxCPUs = 254

// ErrTooLarge reports tables that do not fit in Config.MaxSize.
var ErrTooLarge = errors.New("acpi: tables too large")

// Table is one table inside a Tables block.
type Table struct {
	// Signature is the table's signature (SigRSDP for the RSDP).
	Signature string
	// Offset and Len locate it in Tables.Data.
	Offset, Len int
}

// Tables is the block Build returns.
type Tables struct {
	// Addr is the guest-physical address Data is built for.
	Addr uint64
	// Data is every table, RSDP first.
	Data []byte
	// List names each table in Data, in order.
	List []Table
}

// Get returns the bytes of the table with signature sig, or nil.
func (t *Tables) Get(sig string) []byte {
	for _, e := range t.List {
		if e.Signature == sig {
			return t.Data[e.Offset : e.Offset+e.Len]
		}
	}
	return nil
}

// Build returns the tables for c, laid out for guest-physical address addr
// (16-byte aligned, below 4 GiB: the FADT's 32-bit DSDT field holds an
// address too).
func Build(addr uint64, c Config) (*Tables, error) {
	if err := check(addr, c); err != nil {
		return nil, err
	}
	t := &Tables{Addr: addr}
	put := func(sig string, b []byte) uint64 {
		for len(t.Data)%align != 0 {
			t.Data = append(t.Data, 0)
		}
		off := len(t.Data)
		t.Data = append(t.Data, b...)
		t.List = append(t.List, Table{Signature: sig, Offset: off, Len: len(b)})
		return addr + uint64(off)
	}
	// The RSDP needs the XSDT's address, which comes last: reserve it now.
	put(SigRSDP, make([]byte, rsdpSize))
	dsdt := put(SigDSDT, DSDT(c))
	fadt := put(SigFADT, FADT(c, dsdt))
	madt := put(SigMADT, MADT(c))
	xsdt := put(SigXSDT, XSDT([]uint64{fadt, madt}))
	copy(t.Data, RSDP(xsdt))
	if c.MaxSize > 0 && len(t.Data) > c.MaxSize {
		return nil, fmt.Errorf("%w: %d CPUs need %d bytes, %d reserved", ErrTooLarge, c.CPUs, len(t.Data), c.MaxSize)
	}
	return t, nil
}

// check validates addr and c.
func check(addr uint64, c Config) error {
	switch {
	case c.CPUs < 1 || c.CPUs > MaxCPUs:
		return fmt.Errorf("acpi: %d CPUs, want 1..%d", c.CPUs, MaxCPUs)
	case addr%align != 0:
		return fmt.Errorf("acpi: address %#x is not %d-byte aligned", addr, align)
	case addr >= 1<<32:
		return fmt.Errorf("acpi: address %#x is above 4 GiB", addr)
	case c.LAPICAddr == 0 || c.IOAPICAddr == 0:
		return errors.New("acpi: local APIC or I/O APIC address is 0")
	case c.SleepControlPort == 0 || c.SleepStatusPort == 0 || c.ResetPort == 0:
		return errors.New("acpi: sleep control, sleep status and reset ports must be set")
	case c.MaxSize < 0:
		return fmt.Errorf("acpi: MaxSize %d is negative", c.MaxSize)
	}
	for _, d := range c.ISA {
		if len(d.Name) == 0 || len(d.Name) > 4 || len(d.HID) != 7 || d.IRQ > 15 || d.IRQ < -1 {
			return fmt.Errorf("acpi: ISA device %q (%s, IRQ %d): want a name of 1-4 characters, a 7-character PNP ID and IRQ -1..15", d.Name, d.HID, d.IRQ)
		}
	}
	if c.PCI != nil {
		if c.PCI.MMIOSize == 0 || uint64(c.PCI.MMIOBase)+uint64(c.PCI.MMIOSize) > 1<<32 {
			return fmt.Errorf("acpi: PCI window [%#x, +%#x) is empty or crosses 4 GiB", c.PCI.MMIOBase, c.PCI.MMIOSize)
		}
		if c.PCI.ConfigPort == 0 || c.PCI.ConfigPort > 0xFFF0 {
			return fmt.Errorf("acpi: PCI configuration port %#x", c.PCI.ConfigPort)
		}
		seen := map[[2]uint8]bool{}
		for _, p := range c.PCI.IRQs {
			switch {
			case p.Slot > 31 || p.Pin > 3:
				return fmt.Errorf("acpi: PCI slot %d pin %d, want slot 0..31, pin 0..3", p.Slot, p.Pin)
			case seen[[2]uint8{p.Slot, p.Pin}]:
				return fmt.Errorf("acpi: PCI slot %d INT%c listed twice", p.Slot, 'A'+p.Pin)
			}
			seen[[2]uint8{p.Slot, p.Pin}] = true
		}
	}
	return nil
}

// header returns a System Description Table Header (§5.2.6, Table 5.4)
// with the length and checksum still zero; finish fills them in.
func header(sig string, rev byte) []byte {
	b := append([]byte(sig), 0, 0, 0, 0, rev, 0)
	b = append(b, oemID...)
	b = append(b, oemTableID...)
	b = binary.LittleEndian.AppendUint32(b, oemRevision)
	b = append(b, creatorID...)
	return binary.LittleEndian.AppendUint32(b, creatorRevision)
}

// finish sets a table's Length and Checksum (§5.2.6: all bytes sum to 0).
func finish(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	b[9] = 0
	b[9] = checksum(b)
	return b
}

// checksum returns the byte that makes b sum to 0 modulo 256, given that
// b's own checksum byte is 0.
func checksum(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return -s
}

// RSDP returns the Root System Description Pointer (§5.2.5.3, Table 5.3),
// revision 2, pointing at the XSDT only (the RSDT address is 0).
func RSDP(xsdt uint64) []byte {
	b := append([]byte(SigRSDP), 0 /* checksum */)
	b = append(b, oemID...)
	b = append(b, rsdpRevision)
	b = binary.LittleEndian.AppendUint32(b, 0) // RsdtAddress: none
	b = binary.LittleEndian.AppendUint32(b, rsdpSize)
	b = binary.LittleEndian.AppendUint64(b, xsdt)
	b = append(b, 0 /* extended checksum */, 0, 0, 0)
	b[8] = checksum(b[:rsdpV1Size])
	b[32] = checksum(b)
	return b
}

// XSDT returns the Extended System Description Table (§5.2.8): the 64-bit
// addresses of the other tables (the DSDT is reached through the FADT).
func XSDT(tables []uint64) []byte {
	b := header(SigXSDT, xsdtRevision)
	for _, a := range tables {
		b = binary.LittleEndian.AppendUint64(b, a)
	}
	return finish(b)
}

// gas returns a Generic Address Structure (§5.2.3.2, Table 5.1) for one
// byte-wide register at an I/O port.
func gas(port uint16) []byte {
	b := []byte{gasSystemIO, 8, 0, gasAccessByte}
	return binary.LittleEndian.AppendUint64(b, uint64(port))
}

// FADT returns the Fixed ACPI Description Table (§5.2.9, Table 5.9),
// revision 6.5, hardware-reduced: every fixed-hardware field is zero, and
// the sleep control/status and reset registers are byte-wide I/O ports.
func FADT(c Config, dsdt uint64) []byte {
	b := header(SigFADT, fadtRevision)
	b = binary.LittleEndian.AppendUint32(b, 0)            // 36 FIRMWARE_CTRL: no FACS
	b = binary.LittleEndian.AppendUint32(b, uint32(dsdt)) // 40 DSDT
	b = append(b, make([]byte, 108-len(b))...)            // 44-107: no fixed hardware, no SCI
	b = append(b, c.Century)                              // 108 CENTURY: CMOS index of the century
	b = binary.LittleEndian.AppendUint16(b, fadtIAPCBootArch)
	b = append(b, 0)                                   // 111 reserved
	b = binary.LittleEndian.AppendUint32(b, fadtFlags) // 112 Flags
	b = append(b, gas(c.ResetPort)...)                 // 116 RESET_REG
	rv := c.ResetValue
	if rv == 0 {
		rv = defaultResetValue
	}
	b = append(b, rv)                          // 128 RESET_VALUE
	b = binary.LittleEndian.AppendUint16(b, 0) // 129 ARM_BOOT_ARCH
	b = append(b, fadtMinor)                   // 131 FADT Minor Version
	b = binary.LittleEndian.AppendUint64(b, 0) // 132 X_FIRMWARE_CTRL
	b = binary.LittleEndian.AppendUint64(b, dsdt)
	b = append(b, make([]byte, 8*12)...)       // 148-243: X_PM1a_EVT_BLK .. X_GPE1_BLK
	b = append(b, gas(c.SleepControlPort)...)  // 244 SLEEP_CONTROL_REG
	b = append(b, gas(c.SleepStatusPort)...)   // 256 SLEEP_STATUS_REG
	b = binary.LittleEndian.AppendUint64(b, 0) // 268 Hypervisor Vendor Identity
	if len(b) != fadtSize {
		panic(fmt.Sprintf("acpi: FADT is %d bytes, want %d", len(b), fadtSize))
	}
	return finish(b)
}

// DSDT returns the Differentiated System Description Table (§5.2.11.1):
// \_S5_ (§7.4.2.6, soft off through the sleep control register) and, with
// c.PCI, the PCI host bridge \_SB.PCI0 (§6.1, §6.2.2, §6.2.13) with its
// resources and INTx routing, then the ISA devices of c.ISA.
func DSDT(c Config) []byte {
	b := header(SigDSDT, dsdtRevision)
	// Package {SLP_TYPa, SLP_TYPb}: hardware-reduced ACPI uses only the
	// first (§7.4.2; Linux: acpi_hw_extended_sleep).
	b = append(b, amlName("\\_S5", amlPackage(amlInteger(sleepTypeS5), amlInteger(0)))...)
	var sb [][]byte
	if c.PCI != nil {
		sb = append(sb, pciHostBridge(c.PCI))
	}
	for _, d := range c.ISA {
		sb = append(sb, isaDevice(d))
	}
	if len(sb) > 0 {
		b = append(b, amlScope("\\_SB", sb...)...)
	}
	return finish(b)
}

// isaDevice is Device(d.Name) with _HID, _UID and a _CRS of its I/O ports
// (§6.4.2.5) and its IRQ (§6.4.2.1: edge-triggered, active high, the ISA
// default).
func isaDevice(d ISADevice) []byte {
	var crs []byte
	for _, p := range d.Ports {
		crs = append(crs, resIOPort(p.Base, p.Len)...)
	}
	if d.IRQ >= 0 {
		crs = append(crs, resIRQ(uint8(d.IRQ))...)
	}
	crs = append(crs, resEnd()...)
	return amlDevice(d.Name,
		amlName("_HID", amlInteger(uint64(eisaID(d.HID)))),
		amlName("_UID", amlInteger(uint64(d.UID))),
		amlName("_CRS", amlBuffer(crs)),
	)
}

// pciHostBridge is Device(PCI0): a PCI (not PCIe) host bridge for segment
// 0, bus 0, whose _CRS gives bus 0, the configuration ports, every other
// I/O port and the BAR window, and whose _PRT gives the INTx routes
// (§6.2.13: a GSI, source 0).
func pciHostBridge(p *PCI) []byte {
	crs := resWord(resTypeBus, 0, 0, 0)
	crs = append(crs, resIOPort(p.ConfigPort, 8)...)
	crs = append(crs, resWord(resTypeIO, resIOEntire, 0, p.ConfigPort-1)...)
	crs = append(crs, resWord(resTypeIO, resIOEntire, p.ConfigPort+8, 0xFFFF)...)
	crs = append(crs, resDWordMemory(p.MMIOBase, p.MMIOBase+p.MMIOSize-1)...)
	crs = append(crs, resEnd()...)
	var prt [][]byte
	for _, r := range p.IRQs {
		prt = append(prt, amlPackage(
			amlInteger(uint64(r.Slot)<<16|0xFFFF), // _ADR: device r.Slot, any function
			amlInteger(uint64(r.Pin)),
			amlInteger(0), // source: a GSI, not a link device
			amlInteger(uint64(r.GSI)),
		))
	}
	return amlDevice("PCI0",
		amlName("_HID", amlInteger(uint64(eisaID("PNP0A03")))),
		amlName("_UID", amlInteger(0)),
		amlName("_SEG", amlInteger(0)),
		amlName("_BBN", amlInteger(0)),
		amlName("_CRS", amlBuffer(crs)),
		amlName("_PRT", amlPackage(prt...)),
	)
}

// MADT returns the Multiple APIC Description Table (§5.2.12): one enabled
// Processor Local APIC per CPU, the I/O APIC with GSI base 0, identity
// Interrupt Source Overrides for ISA IRQs 1-15 (see the package comment)
// and the NMI on every local APIC's LINT1.
func MADT(c Config) []byte {
	b := header(SigMADT, madtRevision)
	b = binary.LittleEndian.AppendUint32(b, c.LAPICAddr)
	b = binary.LittleEndian.AppendUint32(b, madtPCATCompat)
	for id := range c.CPUs {
		// §5.2.12.2: type, length 8, ACPI processor UID, APIC ID, flags.
		b = append(b, madtTypeLAPIC, 8, byte(id), byte(id))
		b = binary.LittleEndian.AppendUint32(b, madtLAPICEnabled)
	}
	// §5.2.12.3: type, length 12, I/O APIC ID, reserved, address, GSI base.
	b = append(b, madtTypeIOAPIC, 12, c.IOAPICID, 0)
	b = binary.LittleEndian.AppendUint32(b, c.IOAPICAddr)
	b = binary.LittleEndian.AppendUint32(b, 0)
	// §5.2.12.5: type, length 10, bus 0 (ISA), source IRQ, GSI, flags.
	for irq := byte(1); irq < isaIRQs; irq++ {
		b = append(b, madtTypeOverride, 10, 0, irq)
		b = binary.LittleEndian.AppendUint32(b, uint32(irq))
		b = binary.LittleEndian.AppendUint16(b, madtFlagsConforming)
	}
	// §5.2.12.7: type, length 6, processor UID (all), flags, LINT#.
	b = append(b, madtTypeLAPICNMI, 6, madtAllProcessors)
	b = binary.LittleEndian.AppendUint16(b, madtFlagsConforming)
	b = append(b, madtNMILINT)
	return finish(b)
}
