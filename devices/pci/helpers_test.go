package pci

import (
	"encoding/binary"
	"sync"
	"testing"
)

const (
	testWindowBase = 0xC000_0000
	testWindowSize = 0x1000_0000
)

// cfgAddr builds a CONFIG_ADDRESS value (PCI 3.0 §3.2.2.3.2).
func cfgAddr(bus, dev, fn, reg uint32) uint32 {
	return 1<<31 | bus<<16 | dev<<11 | fn<<8 | reg&0xFC
}

// pio plays the CPU's IN/OUT instructions against ports 0xCF8-0xCFF.
type pio struct{ io *ConfigIO }

func (p pio) out32(port uint16, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	p.io.Write(uint64(port-ConfigIOPort), b[:])
}

func (p pio) out16(port uint16, v uint16) {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], v)
	p.io.Write(uint64(port-ConfigIOPort), b[:])
}

func (p pio) out8(port uint16, v uint8) { p.io.Write(uint64(port-ConfigIOPort), []byte{v}) }

func (p pio) in32(port uint16) uint32 {
	var b [4]byte
	p.io.Read(uint64(port-ConfigIOPort), b[:])
	return binary.LittleEndian.Uint32(b[:])
}

func (p pio) in16(port uint16) uint16 {
	var b [2]byte
	p.io.Read(uint64(port-ConfigIOPort), b[:])
	return binary.LittleEndian.Uint16(b[:])
}

func (p pio) in8(port uint16) uint8 {
	var b [1]byte
	p.io.Read(uint64(port-ConfigIOPort), b[:])
	return b[0]
}

// cfgRead32 and cfgWrite32 do a whole mechanism #1 cycle on bus 0.
func (p pio) cfgRead32(dev, reg uint32) uint32 {
	p.out32(0xCF8, cfgAddr(0, dev, 0, reg))
	return p.in32(0xCFC)
}

func (p pio) cfgWrite32(dev, reg, v uint32) {
	p.out32(0xCF8, cfgAddr(0, dev, 0, reg))
	p.out32(0xCFC, v)
}

func (p pio) cfgRead16(dev, reg uint32) uint16 {
	p.out32(0xCF8, cfgAddr(0, dev, 0, reg))
	return p.in16(0xCFC + uint16(reg&2))
}

func (p pio) cfgWrite16(dev, reg uint32, v uint16) {
	p.out32(0xCF8, cfgAddr(0, dev, 0, reg))
	p.out16(0xCFC+uint16(reg&2), v)
}

// recordingHandler is a BAR handler that remembers the last access.
type recordingHandler struct {
	mu        sync.Mutex
	lastOff   uint64
	lastWrite []byte
	fill      byte
}

func (h *recordingHandler) Read(off uint64, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastOff = off
	for i := range data {
		data[i] = h.fill
	}
}

func (h *recordingHandler) Write(off uint64, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastOff = off
	h.lastWrite = append([]byte(nil), data...)
}

// testDev is a function with whatever BARs a test gives it.
type testDev struct{ cfg *Config }

func (d *testDev) PCIConfig() *Config { return d.cfg }

func newTestBus(t *testing.T) (*Bus, pio) {
	t.Helper()
	b := NewBus(testWindowBase, testWindowSize)
	return b, pio{b.ConfigIO()}
}

// fakeMSI records every message.
type fakeMSI struct {
	mu   sync.Mutex
	msgs []msiMsg
}

type msiMsg struct {
	addr uint64
	data uint32
}

func (f *fakeMSI) SignalMSI(addr uint64, data uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, msiMsg{addr, data})
	return nil
}

func (f *fakeMSI) take() []msiMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.msgs
	f.msgs = nil
	return m
}
