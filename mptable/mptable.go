// Package mptable builds the Intel MultiProcessor Specification 1.4 tables
// (the MP floating pointer structure and the MP configuration table) that
// let a Linux guest without ACPI or a BIOS find its CPUs, the I/O APIC and
// the routing of the ISA (and, optionally, PCI INTx) interrupts.
//
// References in comments are to the MP specification 1.4 ("MP §x"); Linux
// reads the tables in arch/x86/kernel/mpparse.c.
//
// # Layout
//
// Build returns one contiguous block: the 16-byte floating pointer, then the
// base configuration table, whose entries are sorted by type (MP §4.3):
//
//	processors   type 0, 20 bytes each, APIC IDs 0..CPUs-1, CPU 0 is the BSP
//	buses        type 1,  8 bytes each
//	I/O APIC     type 2,  8 bytes, ID = CPUs (the first ID after the CPUs)
//	I/O ints     type 3,  8 bytes each: 16 ISA IRQs, then the PCI INTx lines
//	local ints   type 4,  8 bytes each: ExtINT on LINT0, NMI on LINT1
//
// There is no extended table and no OEM table.
//
// # Bus numbering
//
// Without PCI the ISA bus is bus 0 (as Firecracker). With PCI, bus 0 is
// "PCI   " and ISA is bus 1, as SeaBIOS builds it for QEMU and as MP §D.2
// prescribes: a PCI bus entry's ID is its PCI bus number (Linux looks an
// INTx entry up by PCI bus number, device and pin, and the machine's root
// bus is 0), other buses take the IDs left free, in ascending order.
//
// PCI INTx entries say level-triggered, active low (flags 0x000F, the PCI
// convention). KVM's in-kernel I/O APIC ignores the polarity bit, so a
// device model asserts the line with KVM_IRQ_LINE level 1 either way.
//
// # ISA IRQ 0
//
// By default ISA IRQ n goes to I/O APIC pin n for n = 0..15, identity
// including IRQ 0, as Firecracker's mptable.rs does. That matches KVM's
// default GSI routing (kvm_setup_default_irq_routing: GSI n -> IOAPIC pin
// n), in force whenever the VMM creates the in-kernel irqchip and never
// calls KVM_SET_GSI_ROUTING; the in-kernel PIT raises GSI 0 and so reaches
// pin 0. Real PCs and QEMU (which installs its own routing, GSI 0 -> pin 2)
// instead route IRQ 0 to pin 2 and leave IRQ 2, the PIC cascade, out; set
// Config.IRQ0ToPin2 for that layout, and only together with such routing.
//
// # Size
//
// The fixed part takes 220 bytes and each CPU 20 more (the PCI bus entry
// and each INTx entry 8), so the default 1 KiB holds at most 40 CPUs, 39
// with PCI. More CPUs need a larger Config.MaxSize and a place with room
// that Linux scans, such as the BIOS area at 0xF0000 (64 KiB).
package mptable

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits and defaults.
const (
	// MaxCPUs is the most CPUs a table can describe: xAPIC IDs are 8 bits,
	// 0xFF is the broadcast ID, and the I/O APIC takes the ID after the
	// last CPU.
	MaxCPUs = 254
	// DefaultMaxSize is the space Build may use unless Config.MaxSize says
	// otherwise: the last KiB of base memory, 0x9FC00-0x9FFFF (MP §4).
	DefaultMaxSize = 1024
	// IOAPICPins is the number of redirection entries of KVM's in-kernel
	// I/O APIC (IOAPIC_NUM_PINS); pins 0-15 carry the ISA IRQs.
	IOAPICPins = 24
	// ISAIRQs is the number of ISA interrupt lines described.
	ISAIRQs = 16
)

// Entry and structure sizes (MP §4.1, §4.2, §4.3).
const (
	floatSize   = 16 // MP floating pointer structure, one paragraph
	headerSize  = 44 // configuration table header
	cpuSize     = 20 // type 0
	busSize     = 8  // type 1
	ioapicSize  = 8  // type 2
	intSize     = 8  // type 3
	lintSize    = 8  // type 4
	numLocalInt = 2  // ExtINT on LINT0, NMI on LINT1
)

// Entry types (MP §4.3, Table 4-3).
const (
	typeProcessor = 0
	typeBus       = 1
	typeIOAPIC    = 2
	typeIOInt     = 3
	typeLocalInt  = 4
)

// Interrupt types (MP §4.3.4, Table 4-11).
const (
	intINT    = 0
	intNMI    = 1
	intExtINT = 3
)

// Interrupt flags (MP §4.3.4, Table 4-10): polarity in bits 0-1, trigger
// mode in bits 2-3; 0 means "conforms to the bus" (ISA: edge, active high).
const (
	flagsConforming   = 0x0000
	polarityActiveLow = 0x3
	triggerLevel      = 0x3 << 2
	flagsPCI          = polarityActiveLow | triggerLevel // 0x000F
)

// Field values.
const (
	floatSignature = "_MP_" // MP §4.1, Table 4-1
	tableSignature = "PCMP" // MP §4.2, Table 4-2
	oemID          = "GOVMM   "
	productID      = "GOVMM-VM    "
	busTypeISA     = "ISA   " // MP §4.3.2, Table 4-8
	busTypePCI     = "PCI   "

	specRev     = 4 // MP 1.4
	floatLength = 1 // in 16-byte paragraphs

	lapicVersion     = 0x14   // integrated xAPIC (what KVM's local APIC reports)
	ioapicVersion    = 0x11   // KVM's IOAPIC_VERSION_ID
	cpuEnabled       = 1 << 0 // CPU FLAGS: EN, MP §4.3.1
	cpuBootProcessor = 1 << 1 // CPU FLAGS: BP
	cpuSignature     = 0x600  // family 6, model 0, stepping 0 (as Firecracker)
	cpuFeatureFPU    = 1 << 0 // CPUID.1:EDX bit 0
	cpuFeatureAPIC   = 1 << 9 // CPUID.1:EDX bit 9
	ioapicEnabled    = 1 << 0 // I/O APIC FLAGS: EN, MP §4.3.3
	allLocalAPICs    = 0xFF   // MP §4.3.5, Table 4-12
)

// ErrTooLarge reports a table that does not fit in the space the caller
// reserved (Config.MaxSize, by default DefaultMaxSize).
var ErrTooLarge = errors.New("mptable: table too large")

// Config describes the machine the table advertises.
type Config struct {
	// CPUs is the number of processors, 1..MaxCPUs. They get local APIC
	// IDs 0..CPUs-1; CPU 0 is the bootstrap processor.
	CPUs int
	// IOAPICAddr is the I/O APIC's MMIO base, e.g. 0xFEC00000.
	IOAPICAddr uint32
	// LAPICAddr is the local APICs' MMIO base, e.g. 0xFEE00000.
	LAPICAddr uint32
	// PCI adds a "PCI   " bus entry as bus 0 and moves ISA to bus 1.
	PCI bool
	// PCIIRQs lists the I/O APIC pins that PCI INTx lines of bus 0 are
	// wired to (level-triggered, active low). It requires PCI.
	PCIIRQs []PCIIRQ
	// IRQ0ToPin2 routes ISA IRQ 0 to I/O APIC pin 2 and omits IRQ 2, as
	// real PCs and QEMU do. Leave it false with KVM's default GSI routing,
	// where the PIT reaches pin 0 (see the package comment).
	IRQ0ToPin2 bool
	// MaxSize bounds the bytes Build returns; 0 means DefaultMaxSize.
	MaxSize int
}

// PCIIRQ wires one PCI INTx line of a device on bus 0 to an I/O APIC pin.
type PCIIRQ struct {
	// Slot is the PCI device number, 0..31.
	Slot uint8
	// Pin is the interrupt pin: INTA=0, INTB=1, INTC=2, INTD=3 (the PCI
	// Interrupt Pin register minus one).
	Pin uint8
	// IOAPICPin is the I/O APIC input, 16..IOAPICPins-1: pins 0-15 carry
	// the edge-triggered ISA IRQs.
	IOAPICPin uint8
}

// Size returns the number of bytes Build would return for c, without
// checking c.
func Size(c Config) int {
	n := floatSize + headerSize + c.CPUs*cpuSize + busSize + ioapicSize +
		isaIRQCount(c)*intSize + len(c.PCIIRQs)*intSize + numLocalInt*lintSize
	if c.PCI {
		n += busSize
	}
	return n
}

func isaIRQCount(c Config) int {
	if c.IRQ0ToPin2 {
		return ISAIRQs - 1
	}
	return ISAIRQs
}

// Build returns the bytes to place at guest-physical address addr: the
// 16-byte MP floating pointer structure (MP §4.1), whose physical address
// pointer is addr+16, followed directly by the MP configuration table
// (MP §4.2, §4.3). addr must be 16-byte aligned, and for Linux to find the
// pointer it must lie in the first KiB of memory, the last KiB of base
// memory (0x9FC00) or 0xF0000-0xFFFFF. Build fails if the result would be
// longer than c.MaxSize (DefaultMaxSize if 0), wrapping ErrTooLarge.
func Build(addr uint32, c Config) ([]byte, error) {
	if err := check(addr, c); err != nil {
		return nil, err
	}
	limit := c.MaxSize
	if limit == 0 {
		limit = DefaultMaxSize
	}
	size := Size(c)
	if size > limit {
		return nil, fmt.Errorf("%w: %d CPUs need %d bytes, %d reserved", ErrTooLarge, c.CPUs, size, limit)
	}
	if uint64(addr)+uint64(size) > 1<<32 {
		return nil, fmt.Errorf("mptable: %d bytes at %#x cross 4 GiB", size, addr)
	}

	b := make([]byte, 0, size)

	// MP floating pointer structure (MP §4.1, Table 4-1). Feature byte 1
	// is 0: a configuration table is present (no default configuration).
	// Feature byte 2 bit 7 (IMCRP) is clear: no IMCR, virtual wire mode.
	b = append(b, floatSignature...)
	b = binary.LittleEndian.AppendUint32(b, addr+floatSize)
	b = append(b, floatLength, specRev, 0 /* checksum */, 0, 0, 0, 0, 0)
	b[10] = checksum(b[:floatSize])

	// Configuration table header (MP §4.2, Table 4-2); length, entry count
	// and checksum are filled in at the end.
	t := len(b)
	b = append(b, tableSignature...)
	b = append(b, 0, 0) // base table length
	b = append(b, specRev, 0 /* checksum */)
	b = append(b, oemID...)
	b = append(b, productID...)
	b = binary.LittleEndian.AppendUint32(b, 0) // OEM table pointer
	b = append(b, 0, 0)                        // OEM table size
	b = append(b, 0, 0)                        // entry count
	b = binary.LittleEndian.AppendUint32(b, c.LAPICAddr)
	b = append(b, 0, 0, 0, 0) // extended table length, checksum, reserved
	entries := 0

	// Processor entries (MP §4.3.1, Table 4-4).
	for id := range c.CPUs {
		flags := byte(cpuEnabled)
		if id == 0 {
			flags |= cpuBootProcessor
		}
		b = append(b, typeProcessor, byte(id), lapicVersion, flags)
		b = binary.LittleEndian.AppendUint32(b, cpuSignature)
		b = binary.LittleEndian.AppendUint32(b, cpuFeatureFPU|cpuFeatureAPIC)
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // reserved
		entries++
	}

	// Bus entries (MP §4.3.2, Table 4-7), in ascending bus ID order (MP §D.2).
	const pciBus = 0 // PCI bus number 0, the machine's root bus
	isaBus := byte(0)
	if c.PCI {
		isaBus = 1
		b = append(b, typeBus, pciBus)
		b = append(b, busTypePCI...)
		entries++
	}
	b = append(b, typeBus, isaBus)
	b = append(b, busTypeISA...)
	entries++

	// I/O APIC entry (MP §4.3.3, Table 4-9).
	ioapicID := byte(c.CPUs)
	b = append(b, typeIOAPIC, ioapicID, ioapicVersion, ioapicEnabled)
	b = binary.LittleEndian.AppendUint32(b, c.IOAPICAddr)
	entries++

	// I/O interrupt assignment entries (MP §4.3.4, Table 4-10). ISA IRQs
	// are edge-triggered, active high: "conforms to the bus".
	ioint := func(flags uint16, bus, busIRQ, pin byte) {
		b = append(b, typeIOInt, intINT)
		b = binary.LittleEndian.AppendUint16(b, flags)
		b = append(b, bus, busIRQ, ioapicID, pin)
		entries++
	}
	for irq := range byte(ISAIRQs) {
		pin := irq
		if c.IRQ0ToPin2 {
			switch irq {
			case 0:
				pin = 2
			case 2:
				continue
			}
		}
		ioint(flagsConforming, isaBus, irq, pin)
	}
	// PCI INTx: the source bus IRQ is the device number in bits 2-6 and
	// the pin (INTA=0) in bits 0-1 (MP §D.3); level-triggered, active low.
	for _, p := range c.PCIIRQs {
		ioint(flagsPCI, pciBus, p.Slot<<2|p.Pin, p.IOAPICPin)
	}

	// Local interrupt assignment entries (MP §4.3.5, Table 4-12): the
	// 8259A's INTR as ExtINT on LINT0 and NMI on LINT1, to every local
	// APIC, as in the default configurations (MP §5) and Linux's copy of
	// them (construct_default_ISA_mptable).
	for lint, typ := range []byte{intExtINT, intNMI} {
		b = append(b, typeLocalInt, typ)
		b = binary.LittleEndian.AppendUint16(b, flagsConforming)
		b = append(b, isaBus, 0, allLocalAPICs, byte(lint))
		entries++
	}

	if len(b) != size {
		panic(fmt.Sprintf("mptable: built %d bytes, computed %d", len(b), size))
	}
	binary.LittleEndian.PutUint16(b[t+4:], uint16(len(b)-t))
	binary.LittleEndian.PutUint16(b[t+34:], uint16(entries))
	b[t+7] = checksum(b[t:])
	return b, nil
}

// check validates c and addr.
func check(addr uint32, c Config) error {
	if c.CPUs < 1 || c.CPUs > MaxCPUs {
		return fmt.Errorf("mptable: %d CPUs, want 1..%d", c.CPUs, MaxCPUs)
	}
	if addr%16 != 0 {
		return fmt.Errorf("mptable: address %#x is not 16-byte aligned", addr)
	}
	if c.LAPICAddr == 0 {
		// Linux rejects the table (smp_check_mpc: null local APIC address).
		return errors.New("mptable: local APIC address is 0")
	}
	if c.IOAPICAddr == 0 {
		return errors.New("mptable: I/O APIC address is 0")
	}
	if c.MaxSize < 0 {
		return fmt.Errorf("mptable: MaxSize %d is negative", c.MaxSize)
	}
	if len(c.PCIIRQs) > 0 && !c.PCI {
		return errors.New("mptable: PCIIRQs given without PCI")
	}
	seen := make(map[[2]uint8]bool, len(c.PCIIRQs))
	for _, p := range c.PCIIRQs {
		switch {
		case p.Slot > 31:
			return fmt.Errorf("mptable: PCI slot %d, want 0..31", p.Slot)
		case p.Pin > 3:
			return fmt.Errorf("mptable: PCI slot %d pin %d, want 0..3 (INTA..INTD)", p.Slot, p.Pin)
		case p.IOAPICPin < ISAIRQs || p.IOAPICPin >= IOAPICPins:
			return fmt.Errorf("mptable: PCI slot %d INT%c on I/O APIC pin %d, want %d..%d",
				p.Slot, 'A'+p.Pin, p.IOAPICPin, ISAIRQs, IOAPICPins-1)
		case seen[[2]uint8{p.Slot, p.Pin}]:
			return fmt.Errorf("mptable: PCI slot %d INT%c listed twice", p.Slot, 'A'+p.Pin)
		}
		seen[[2]uint8{p.Slot, p.Pin}] = true
	}
	return nil
}

// checksum returns the byte that makes the bytes of b, with it added, sum
// to 0 modulo 256 (MP §4.1, §4.2). b's checksum byte must be 0.
func checksum(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return -s
}
