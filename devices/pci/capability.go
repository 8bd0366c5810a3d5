package pci

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Capability IDs used here (PCI 3.0 appendix H).
const (
	CapIDVendor = 0x09
	CapIDMSIX   = 0x11
)

// CapabilityHooks let a capability react to guest accesses. Both run with
// the Config's lock held, on the accessing vCPU's goroutine; they must not
// call back into the same Config.
type CapabilityHooks struct {
	// Read, if set, runs before a read of bytes [off, off+n) of the
	// capability (offsets relative to its start); it may refresh bytes of
	// c, the capability's bytes in configuration space, header included.
	Read func(c []byte, off, n int)
	// Write, if set, runs after a write changed bytes [off, off+n) of the
	// capability (offsets relative to its start). c is as for Read; the
	// hook may also store into it.
	Write func(c []byte, off, n int)
}

// capability is one entry in the list.
type capability struct {
	off, len int
	hooks    CapabilityHooks
}

// AddCapability appends a capability to the list (PCI 3.0 §6.7). cap holds
// the whole structure: cap[0] is the capability ID and cap[1] (the next
// pointer) is filled in here. wmask, if not nil, has the same length as cap
// and marks the bits the guest may write. It returns the capability's offset
// in configuration space.
func (c *Config) AddCapability(cap, wmask []byte, hooks CapabilityHooks) (int, error) {
	if len(cap) < 2 {
		return 0, errors.New("pci: capability shorter than its header")
	}
	if wmask != nil && len(wmask) != len(cap) {
		return 0, errors.New("pci: capability mask length differs from the capability")
	}
	off := c.nextCap
	if off+len(cap) > ConfigSize {
		return 0, fmt.Errorf("pci: no room for a %d-byte capability", len(cap))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	copy(c.regs[off:], cap)
	c.regs[off+1] = 0
	if wmask != nil {
		copy(c.wmask[off:], wmask)
	}
	c.wmask[off] = 0
	c.wmask[off+1] = 0
	if c.lastCap == 0 {
		c.regs[RegCapabilities] = byte(off)
		st := binary.LittleEndian.Uint16(c.regs[RegStatus:]) | StatusCapList
		binary.LittleEndian.PutUint16(c.regs[RegStatus:], st)
	} else {
		c.regs[c.lastCap+1] = byte(off)
	}
	c.lastCap = off
	c.nextCap = (off + len(cap) + 3) &^ 3 // capabilities are dword aligned
	c.caps = append(c.caps, capability{off: off, len: len(cap), hooks: hooks})
	return off, nil
}

// overlap returns the part of [off, off+n) inside cp, relative to cp.
func (cp *capability) overlap(off uint64, n int) (int, int, bool) {
	lo, hi := off, off+uint64(n)
	clo, chi := uint64(cp.off), uint64(cp.off+cp.len)
	if hi <= clo || lo >= chi {
		return 0, 0, false
	}
	lo = max(lo, clo)
	hi = min(hi, chi)
	return int(lo - clo), int(hi - lo), true
}

func (c *Config) runReadHooks(off uint64, n int) {
	for i := range c.caps {
		cp := &c.caps[i]
		if cp.hooks.Read == nil {
			continue
		}
		if o, l, ok := cp.overlap(off, n); ok {
			cp.hooks.Read(c.regs[cp.off:cp.off+cp.len], o, l)
		}
	}
}

func (c *Config) runWriteHooks(off uint64, n int) {
	for i := range c.caps {
		cp := &c.caps[i]
		if cp.hooks.Write == nil {
			continue
		}
		if o, l, ok := cp.overlap(off, n); ok {
			cp.hooks.Write(c.regs[cp.off:cp.off+cp.len], o, l)
		}
	}
}
