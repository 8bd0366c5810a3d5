package pci

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/govmm/govmm/devices/bus"
)

// Device is a PCI function. It owns its configuration space; the bus reads
// and writes it for the guest and routes BAR accesses to its handlers.
type Device interface {
	PCIConfig() *Config
}

// NumSlots is the number of device numbers on a bus (PCI 3.0 §3.2.2.3.2).
const NumSlots = 32

// ErrBusFull is Add's error when all NumSlots slots are taken.
var ErrBusFull = errors.New("pci: bus 0 is full")

// Bus is PCI bus 0: up to 32 single-function devices, slot 0 taken by the
// host bridge, and an MMIO window in which BARs are placed.
type Bus struct {
	// base and size delimit the MMIO window. Immutable.
	base, size uint64

	// OnBARMove, if set, is called when the guest programs a BAR with a new
	// address inside the window (never for the sizing write or its
	// restore). The bus keeps decoding the BAR at its new address by
	// itself; the callback exists for address-bound host state such as
	// KVM ioeventfds (a virtio transport's Ioeventfds() already returns
	// the new addresses when it runs). It runs on the vCPU goroutine that
	// wrote the BAR. Set it before the guest runs.
	OnBARMove func(oldAddr, newAddr, size uint64)
	// OnDecodeChange, if set, is called when the guest turns a function's
	// memory decoding (the command register's Memory Space bit, PCI 3.0
	// §6.2.2) on or off, on the vCPU goroutine that wrote it: a function
	// that does not decode must not answer at its BARs, so address-bound
	// host state (KVM ioeventfds) must follow. Set it before the guest runs.
	OnDecodeChange func()

	// mu guards slots, next and configAddr.
	mu sync.RWMutex
	// slots holds the devices by device number; nil is empty.
	slots [NumSlots]*Slot
	// next is the lowest window address not yet handed to a BAR.
	next uint64
	// configAddr is the CONFIG_ADDRESS register (port 0xCF8).
	configAddr uint32
}

// Slot is a device's place on the bus.
type Slot struct {
	num int
	dev Device
	cfg *Config
}

// Number is the device number (0-31).
func (s *Slot) Number() int { return s.num }

// Device returns the device in the slot.
func (s *Slot) Device() Device { return s.dev }

// SetInterruptLine records in the interrupt line register the GSI the
// machine wired the device's INTx pin to, as firmware would.
func (s *Slot) SetInterruptLine(line uint8) { s.cfg.SetInterruptLine(line) }

// BARAddress returns the current address of BAR index.
func (s *Slot) BARAddress(index int) uint64 { return s.cfg.BARAddress(index) }

// NewBus returns bus 0 with a host bridge at 00:00.0. BARs are placed in
// [mmioBase, mmioBase+mmioSize), which the machine must keep free of RAM and
// other devices (and should mark reserved in the e820 map).
func NewBus(mmioBase, mmioSize uint64) *Bus {
	b := &Bus{base: mmioBase, size: mmioSize, next: mmioBase}
	// Slot 0 is free at this point and the host bridge has no BARs, so
	// this cannot fail.
	if _, err := b.addAt(0, NewHostBridge()); err != nil {
		panic(err)
	}
	return b
}

// Add places dev in the lowest free slot, assigns each of its BARs a
// naturally aligned address in the window, and enables memory decoding.
func (b *Bus) Add(dev Device) (*Slot, error) {
	b.mu.Lock()
	n := -1
	for i := range b.slots {
		if b.slots[i] == nil {
			n = i
			break
		}
	}
	b.mu.Unlock()
	if n < 0 {
		return nil, ErrBusFull
	}
	return b.addAt(n, dev)
}

func (b *Bus) addAt(n int, dev Device) (*Slot, error) {
	cfg := dev.PCIConfig()
	if cfg == nil {
		return nil, errors.New("pci: device without a configuration space")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cfg.bus != nil {
		return nil, errors.New("pci: device already on a bus")
	}
	if b.slots[n] != nil {
		return nil, fmt.Errorf("pci: slot %d in use", n)
	}
	// Largest BARs first wastes the least space to alignment.
	var idx []int
	for i := range cfg.bars {
		if cfg.bars[i].Size != 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(x, y int) bool { return cfg.bars[idx[x]].Size > cfg.bars[idx[y]].Size })
	next := b.next
	addrs := make(map[int]uint64, len(idx))
	for _, i := range idx {
		size := cfg.bars[i].Size
		a := (next + size - 1) &^ (size - 1)
		if a < next || !b.inWindow(a, size) {
			return nil, fmt.Errorf("pci: no room in the MMIO window for %s BAR %d (%#x bytes)", cfg, i, size)
		}
		addrs[i] = a
		next = a + size
	}
	b.next = next
	cfg.mu.Lock()
	for i, a := range addrs {
		cfg.setBARAddrLocked(i, a)
		cfg.placed[i] = a
	}
	cfg.bus = b
	cfg.mu.Unlock()
	// Firmware leaves decoding on for the BARs it assigned.
	cfg.setCommand(CommandMemory)
	s := &Slot{num: n, dev: dev, cfg: cfg}
	b.slots[n] = s
	return s, nil
}

// inWindow reports whether [a, a+size) lies inside the MMIO window.
func (b *Bus) inWindow(a, size uint64) bool {
	end := a + size
	return end > a && a >= b.base && end <= b.base+b.size
}

// slot returns the device in slot n, or nil.
func (b *Bus) slot(n int) *Slot {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.slots[n]
}

// MMIORegions returns the ranges the machine registers on its MMIO bus: the
// whole window, decoded by the bus according to the BARs' current values.
func (b *Bus) MMIORegions() []Region {
	return []Region{{Name: "pci-mmio", Addr: b.base, Size: b.size, Dev: window{b}}}
}

// window routes accesses in the MMIO window to the BAR that holds them.
type window struct{ b *Bus }

func (w window) find(off uint64, n int) (bus.Device, uint64, bool) {
	addr := w.b.base + off
	w.b.mu.RLock()
	slots := w.b.slots
	w.b.mu.RUnlock()
	for _, s := range slots {
		if s == nil {
			continue
		}
		if h, o, ok := s.cfg.decode(addr, uint64(n)); ok {
			return h, o, true
		}
	}
	return nil, 0, false
}

// Read implements bus.Device; an access that no BAR claims reads all-ones.
func (w window) Read(off uint64, data []byte) {
	if h, o, ok := w.find(off, len(data)); ok {
		h.Read(o, data)
		return
	}
	bus.FillOnes(data)
}

// Write implements bus.Device; an access that no BAR claims is dropped.
func (w window) Write(off uint64, data []byte) {
	if h, o, ok := w.find(off, len(data)); ok {
		h.Write(o, data)
	}
}
