package pci

// Offsets in a type-0 configuration header (PCI 3.0 §6.1, figure 6-1).
const (
	RegVendorID          = 0x00
	RegDeviceID          = 0x02
	RegCommand           = 0x04
	RegStatus            = 0x06
	RegRevision          = 0x08
	RegClassCode         = 0x09 // 3 bytes: programming interface, sub-class, base class
	RegCacheLineSize     = 0x0C
	RegLatencyTimer      = 0x0D
	RegHeaderType        = 0x0E
	RegBAR0              = 0x10
	RegSubsystemVendorID = 0x2C
	RegSubsystemID       = 0x2E
	RegExpansionROM      = 0x30
	RegCapabilities      = 0x34
	RegInterruptLine     = 0x3C
	RegInterruptPin      = 0x3D
)

// ConfigSize is the size of a function's configuration space reachable
// through configuration mechanism #1.
const ConfigSize = 256

// NumBARs is the number of base address registers in a type-0 header.
const NumBARs = 6

// Command register bits (PCI 3.0 §6.2.2).
const (
	CommandIO           = 1 << 0
	CommandMemory       = 1 << 1
	CommandBusMaster    = 1 << 2
	CommandParity       = 1 << 6
	CommandSERR         = 1 << 8
	CommandINTxDisable  = 1 << 10
	commandWritableMask = CommandMemory | CommandBusMaster | CommandParity | CommandSERR | CommandINTxDisable
)

// StatusCapList is the status register bit that says a capability list is
// present at RegCapabilities (PCI 3.0 §6.2.3).
const StatusCapList = 1 << 4

// firstCapOffset is where the capability list starts, right after the
// 64-byte predefined header (PCI 3.0 §6.7).
const firstCapOffset = 0x40

// Header is the identification part of a type-0 header; everything here is
// read-only to the guest.
type Header struct {
	VendorID, DeviceID uint16
	Revision           uint8
	// Class is the 24-bit class code: base class << 16 | sub-class << 8 |
	// programming interface (PCI 3.0 appendix D).
	Class                          uint32
	SubsystemVendorID, SubsystemID uint16
	// InterruptPin is 0 for no INTx, 1..4 for INTA#..INTD# (PCI 3.0 §6.2.4).
	InterruptPin uint8
}
