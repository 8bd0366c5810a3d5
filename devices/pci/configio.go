package pci

import (
	"encoding/binary"

	"github.com/govmm/govmm/devices/bus"
)

// Configuration mechanism #1 (PCI 3.0 §3.2.2.3.2): CONFIG_ADDRESS at port
// 0xCF8 and CONFIG_DATA at 0xCFC-0xCFF.
const (
	// ConfigIOPort is the first port of the mechanism #1 register pair.
	ConfigIOPort = 0xCF8
	// ConfigIOSize covers CONFIG_ADDRESS and CONFIG_DATA.
	ConfigIOSize = 8
)

// CONFIG_ADDRESS fields.
const (
	configEnable   = 1 << 31
	configRegMask  = 0xFC
	configReadOnly = 0x3 // bits 1:0 are read-only zero
	// configExtReg covers bits 30:24, reserved in PCI 3.0; AMD CPUs put
	// extended register numbers (offsets 256-4095) in bits 27:24. There is
	// no extended configuration space here, so such cycles hit nothing
	// rather than aliasing onto offsets 0-255.
	configExtReg = 0x7F << 24
)

// ConfigIO is the port-I/O device for ports 0xCF8-0xCFF.
type ConfigIO struct{ b *Bus }

// ConfigIO returns the device the machine registers at ConfigIOPort.
func (b *Bus) ConfigIO() *ConfigIO { return &ConfigIO{b} }

// target decodes CONFIG_ADDRESS for a data access at port offset off (4-7):
// the function's configuration space and the byte offset in it.
func (c *ConfigIO) target(off uint64, n int) (*Config, uint64, bool) {
	c.b.mu.RLock()
	a := c.b.configAddr
	c.b.mu.RUnlock()
	if a&configEnable == 0 || a&configExtReg != 0 {
		return nil, 0, false
	}
	bus := (a >> 16) & 0xFF
	dev := (a >> 11) & 0x1F
	fn := (a >> 8) & 0x7
	if bus != 0 || fn != 0 {
		return nil, 0, false
	}
	byteOff := off - 4
	if byteOff+uint64(n) > 4 {
		return nil, 0, false // crosses the dword: not a valid access
	}
	s := c.b.slot(int(dev))
	if s == nil {
		return nil, 0, false
	}
	return s.cfg, uint64(a&configRegMask) + byteOff, true
}

// Read implements bus.Device. Only a 32-bit read at 0xCF8 reaches
// CONFIG_ADDRESS; absent functions, other buses and disabled cycles read
// all-ones, so the vendor ID of an empty slot is 0xFFFF.
func (c *ConfigIO) Read(off uint64, data []byte) {
	switch {
	case off == 0 && len(data) == 4:
		c.b.mu.RLock()
		binary.LittleEndian.PutUint32(data, c.b.configAddr)
		c.b.mu.RUnlock()
	case off >= 4 && off < 8:
		if cfg, o, ok := c.target(off, len(data)); ok {
			cfg.Read(o, data)
			return
		}
		bus.FillOnes(data)
	default:
		bus.FillOnes(data)
	}
}

// Write implements bus.Device. Byte and word writes to 0xCF8-0xCFB are not
// configuration cycles and are ignored (Linux's type-1 probe writes a byte
// to 0xCFB first).
func (c *ConfigIO) Write(off uint64, data []byte) {
	switch {
	case off == 0 && len(data) == 4:
		c.b.mu.Lock()
		c.b.configAddr = binary.LittleEndian.Uint32(data) &^ configReadOnly
		c.b.mu.Unlock()
	case off >= 4 && off < 8:
		if cfg, o, ok := c.target(off, len(data)); ok {
			cfg.Write(o, data)
		}
	}
}
