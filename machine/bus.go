package machine

import (
	"fmt"
	"sort"
	"sync/atomic"
)

// Device is anything on a bus: port I/O or MMIO. offset is relative to the
// start of the range the device was registered at; len(data) is the access
// width. Read fills data; Write consumes it. Devices see nothing else.
type Device interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// busRange is one registered device range and its counters. The counters
// are atomics so that several VCPUs may dispatch at once without a lock.
type busRange struct {
	name       string
	base, size uint64
	dev        Device
	// accesses and nanos count exits dispatched here and the time spent
	// in the device (nanos only with stats on).
	accesses, nanos atomic.Uint64
}

// Bus maps address ranges to devices. Ranges are registered before the VCPUs
// start and never change afterwards, so lookups take no lock.
type Bus struct {
	name   string
	ranges []*busRange // sorted by base, non-overlapping
	// unknownReads and unknownWrites count accesses that hit no device.
	unknownReads, unknownWrites atomic.Uint64
	// unknownLog, when set, is told about the first few unknown accesses.
	unknownLog func(write bool, addr uint64, n int)
	logged     atomic.Uint32
}

// NewBus returns an empty bus; name ("pio", "mmio") appears in messages.
func NewBus(name string) *Bus { return &Bus{name: name} }

// Register adds dev at [base, base+size). Overlapping an existing range, an
// empty range or one that wraps the address space is an error.
func (b *Bus) Register(name string, base, size uint64, dev Device) error {
	if size == 0 || base+size < base {
		return fmt.Errorf("%s bus: %s: bad range [%#x, +%#x)", b.name, name, base, size)
	}
	i := sort.Search(len(b.ranges), func(i int) bool { return b.ranges[i].base >= base })
	if i > 0 {
		if p := b.ranges[i-1]; p.base+p.size > base {
			return fmt.Errorf("%s bus: %s at %#x overlaps %s at %#x", b.name, name, base, p.name, p.base)
		}
	}
	if i < len(b.ranges) {
		if n := b.ranges[i]; base+size > n.base {
			return fmt.Errorf("%s bus: %s at %#x overlaps %s at %#x", b.name, name, base, n.name, n.base)
		}
	}
	r := &busRange{name: name, base: base, size: size, dev: dev}
	b.ranges = append(b.ranges, nil)
	copy(b.ranges[i+1:], b.ranges[i:])
	b.ranges[i] = r
	return nil
}

// find returns the range holding all of [addr, addr+n), or nil.
func (b *Bus) find(addr uint64, n int) *busRange {
	lo, hi := 0, len(b.ranges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.ranges[m].base+b.ranges[m].size <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(b.ranges) {
		return nil
	}
	r := b.ranges[lo]
	if addr < r.base || addr-r.base+uint64(n) > r.size {
		return nil
	}
	return r
}

// Read dispatches a read of len(data) bytes at addr. An access that hits no
// device reads all-ones, as an empty ISA or PCI bus does, and is counted.
func (b *Bus) Read(addr uint64, data []byte) *busRange {
	r := b.find(addr, len(data))
	if r == nil {
		for i := range data {
			data[i] = 0xff
		}
		b.unknownReads.Add(1)
		b.logUnknown(false, addr, len(data))
		return nil
	}
	r.dev.Read(addr-r.base, data)
	return r
}

// Write dispatches a write at addr. A write that hits no device is dropped
// and counted.
func (b *Bus) Write(addr uint64, data []byte) *busRange {
	r := b.find(addr, len(data))
	if r == nil {
		b.unknownWrites.Add(1)
		b.logUnknown(true, addr, len(data))
		return nil
	}
	r.dev.Write(addr-r.base, data)
	return r
}

// maxUnknownLogged bounds the log lines about unknown accesses, so that a
// guest probing empty ports cannot flood the log.
const maxUnknownLogged = 8

func (b *Bus) logUnknown(write bool, addr uint64, n int) {
	if b.unknownLog != nil && b.logged.Add(1) <= maxUnknownLogged {
		b.unknownLog(write, addr, n)
	}
}
