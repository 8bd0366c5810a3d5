package pci

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/govmm/govmm/devices/bus"
)

// BAR describes one memory base address register a device wants.
type BAR struct {
	// Size is the size of the region in bytes: a power of two, at least 16
	// (PCI 3.0 §6.2.5.1), and at most 2 GiB for a 32-bit BAR.
	Size uint64
	// Is64 makes a 64-bit BAR, which also takes the next BAR slot.
	Is64 bool
	// Prefetchable sets the prefetchable bit; reads then have no side
	// effects, so leave it false for register regions.
	Prefetchable bool
	// Name appears in messages.
	Name string
	// Handler receives the accesses; offsets are relative to the BAR base.
	Handler bus.Device
}

// barInfo is a BAR slot's static description.
type barInfo struct {
	BAR
	// upper is set on the slot that holds the high half of a 64-bit BAR.
	upper bool
}

// Memory BAR type bits in the low nibble (PCI 3.0 §6.2.5.1).
const (
	barType64       = 0x4
	barPrefetchable = 0x8
	barFlagMask     = 0xF
)

// AddBAR declares memory BAR index with the given description. The address
// is assigned when the function is added to a bus.
func (c *Config) AddBAR(index int, b BAR) error {
	if index < 0 || index >= NumBARs || (b.Is64 && index == NumBARs-1) {
		return fmt.Errorf("pci: BAR index %d out of range", index)
	}
	if c.bars[index].Size != 0 || c.bars[index].upper || (b.Is64 && c.bars[index+1].Size != 0) {
		return fmt.Errorf("pci: BAR %d already in use", index)
	}
	if b.Size < 16 || b.Size&(b.Size-1) != 0 || (!b.Is64 && b.Size > 1<<31) {
		return fmt.Errorf("pci: BAR %d size %#x is not a power of two in range", index, b.Size)
	}
	if b.Handler == nil {
		return errors.New("pci: BAR without a handler")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bars[index] = barInfo{BAR: b}
	var flags uint32
	if b.Is64 {
		flags |= barType64
	}
	if b.Prefetchable {
		flags |= barPrefetchable
	}
	mask := ^(b.Size - 1)
	off := RegBAR0 + 4*index
	binary.LittleEndian.PutUint32(c.regs[off:], flags)
	binary.LittleEndian.PutUint32(c.wmask[off:], uint32(mask)&^barFlagMask)
	if b.Is64 {
		c.bars[index+1] = barInfo{upper: true}
		binary.LittleEndian.PutUint32(c.wmask[off+4:], uint32(mask>>32))
	}
	return nil
}

// barAddrLocked is BAR index's current address, with mu held. For an unused
// slot or the upper half of a 64-bit BAR it is 0.
func (c *Config) barAddrLocked(index int) uint64 {
	b := &c.bars[index]
	if b.Size == 0 {
		return 0
	}
	off := RegBAR0 + 4*index
	a := uint64(binary.LittleEndian.Uint32(c.regs[off:]) &^ barFlagMask)
	if b.Is64 {
		a |= uint64(binary.LittleEndian.Uint32(c.regs[off+4:])) << 32
	}
	return a
}

// setBARAddrLocked programs BAR index with addr, with mu held.
func (c *Config) setBARAddrLocked(index int, addr uint64) {
	off := RegBAR0 + 4*index
	flags := binary.LittleEndian.Uint32(c.regs[off:]) & barFlagMask
	binary.LittleEndian.PutUint32(c.regs[off:], uint32(addr)|flags)
	if c.bars[index].Is64 {
		binary.LittleEndian.PutUint32(c.regs[off+4:], uint32(addr>>32))
	}
}

// BARAddress returns BAR index's current guest-physical address (0 for an
// unused slot). Before the function is added to a bus it is 0.
func (c *Config) BARAddress(index int) uint64 {
	if index < 0 || index >= NumBARs {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.barAddrLocked(index)
}

// decode finds the BAR that holds all of [addr, addr+n) while memory
// decoding is enabled, and returns its handler and the offset in it.
func (c *Config) decode(addr uint64, n uint64) (bus.Device, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if binary.LittleEndian.Uint16(c.regs[RegCommand:])&CommandMemory == 0 {
		return nil, 0, false
	}
	for i := range c.bars {
		b := &c.bars[i]
		if b.Size == 0 {
			continue
		}
		base := c.barAddrLocked(i)
		if addr >= base && addr-base < b.Size && n <= b.Size-(addr-base) {
			return b.Handler, addr - base, true
		}
	}
	return nil, 0, false
}

// barMove is one BAR moved by the guest.
type barMove struct{ old, new, size uint64 }

// checkMoves finds BARs that now hold a new address inside the bus window
// and records it as placed. The sizing write (all-ones) and its restore
// never count: the all-ones value lies outside the window and the restore
// returns to the placed address. Called with mu held.
func (c *Config) checkMoves() []barMove {
	if c.bus == nil {
		return nil
	}
	var moves []barMove
	for i := range c.bars {
		b := &c.bars[i]
		if b.Size == 0 {
			continue
		}
		a := c.barAddrLocked(i)
		if a == c.placed[i] || !c.bus.inWindow(a, b.Size) {
			continue
		}
		moves = append(moves, barMove{c.placed[i], a, b.Size})
		c.placed[i] = a
	}
	return moves
}
