package pci

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// Config is one function's 256-byte configuration space. A device builds it
// with NewConfig, AddBAR and AddCapability before the function is added to a
// Bus; after that only guest accesses (Read, Write) and the few setters
// below change it.
//
// Writes go through a per-byte writable mask, so guest writes to read-only
// fields are ignored and BAR sizing works as PCI 3.0 §6.2.5.1 describes:
// the address bits below the BAR size are read-only zero, so writing
// all-ones reads back ~(size-1) together with the type bits.
type Config struct {
	// mu guards regs and placed. Capability hooks run with it held, so
	// they must not call back into this Config.
	mu sync.Mutex
	// regs is the register file as the guest sees it. Guarded by mu.
	regs [ConfigSize]byte
	// wmask has a 1 for every bit the guest may write. Set during
	// construction, then read-only.
	wmask [ConfigSize]byte
	// bars describes each BAR; Size 0 means unused. The upper half of a
	// 64-bit BAR is marked by upper. Set during construction.
	bars [NumBARs]barInfo
	// caps lists the capabilities with their hooks. Set during construction.
	caps []capability
	// lastCap is the offset of the last capability added (0 if none);
	// nextCap is the next free offset. Construction only.
	lastCap, nextCap int
	// bus is set by Bus.Add; nil before. Used for BAR move reports.
	bus *Bus
	// placed is the last address of each BAR that lay inside the bus
	// window; a change to another in-window address is a move. Guarded by mu.
	placed [NumBARs]uint64
}

// NewConfig returns a configuration space with the given identification,
// memory decoding off, and no BARs or capabilities.
func NewConfig(h Header) *Config {
	c := &Config{nextCap: firstCapOffset}
	r := c.regs[:]
	binary.LittleEndian.PutUint16(r[RegVendorID:], h.VendorID)
	binary.LittleEndian.PutUint16(r[RegDeviceID:], h.DeviceID)
	r[RegRevision] = h.Revision
	r[RegClassCode] = byte(h.Class)
	r[RegClassCode+1] = byte(h.Class >> 8)
	r[RegClassCode+2] = byte(h.Class >> 16)
	binary.LittleEndian.PutUint16(r[RegSubsystemVendorID:], h.SubsystemVendorID)
	binary.LittleEndian.PutUint16(r[RegSubsystemID:], h.SubsystemID)
	r[RegInterruptPin] = h.InterruptPin

	binary.LittleEndian.PutUint16(c.wmask[RegCommand:], commandWritableMask)
	c.wmask[RegCacheLineSize] = 0xFF
	c.wmask[RegLatencyTimer] = 0xFF
	c.wmask[RegInterruptLine] = 0xFF
	return c
}

// Read copies configuration bytes at off into data. Bytes past the end of
// the space read as all-ones.
func (c *Config) Read(off uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runReadHooks(off, len(data))
	for i := range data {
		o := off + uint64(i)
		if o < ConfigSize {
			data[i] = c.regs[o]
		} else {
			data[i] = 0xFF
		}
	}
}

// Write stores data at off, keeping every read-only bit as it was. Writes
// past the end of the space are dropped.
func (c *Config) Write(off uint64, data []byte) {
	c.mu.Lock()
	decoding := c.regs[RegCommand]&CommandMemory != 0
	moves := c.write(off, data)
	decodeChanged := decoding != (c.regs[RegCommand]&CommandMemory != 0)
	bus := c.bus
	c.mu.Unlock()
	// Reported without the lock, so the callback may look at the device
	// (read BAR addresses, ask a transport for its ioeventfds).
	if len(moves) > 0 && bus.OnBARMove != nil {
		for _, m := range moves {
			bus.OnBARMove(m.old, m.new, m.size)
		}
	}
	if decodeChanged && bus != nil && bus.OnDecodeChange != nil {
		bus.OnDecodeChange()
	}
}

// write does Write's work with mu held and returns the BAR moves it caused.
func (c *Config) write(off uint64, data []byte) []barMove {
	var moves []barMove
	touchedBAR := false
	for i, v := range data {
		o := off + uint64(i)
		if o >= ConfigSize {
			break
		}
		m := c.wmask[o]
		c.regs[o] = c.regs[o]&^m | v&m
		if o >= RegBAR0 && o < RegBAR0+4*NumBARs {
			touchedBAR = true
		}
	}
	if touchedBAR {
		moves = c.checkMoves()
	}
	c.runWriteHooks(off, len(data))
	return moves
}

// Uint16 reads a 16-bit register; for the device's own use.
func (c *Config) Uint16(off int) uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return binary.LittleEndian.Uint16(c.regs[off:])
}

// DecodesMemory reports whether the command register's Memory Space bit
// is set: only then does the function answer at its memory BARs.
func (c *Config) DecodesMemory() bool { return c.Command()&CommandMemory != 0 }

// Command returns the command register.
func (c *Config) Command() uint16 { return c.Uint16(RegCommand) }

// SetInterruptLine sets the interrupt line register (PCI 3.0 §6.2.4), the
// value firmware would write: the GSI the function's INTx pin is wired to.
func (c *Config) SetInterruptLine(line uint8) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.regs[RegInterruptLine] = line
}

// setCommand sets the command register; used by the bus at Add.
func (c *Config) setCommand(v uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	binary.LittleEndian.PutUint16(c.regs[RegCommand:], v)
}

// String names the function by vendor and device ID.
func (c *Config) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%04x:%04x", binary.LittleEndian.Uint16(c.regs[0:]), binary.LittleEndian.Uint16(c.regs[2:]))
}
