package machine

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/govmm/govmm/devices/bus"
)

// busRange is one registered device range and its counters. The counters
// are atomics so that several VCPUs may dispatch at once without a lock.
type busRange struct {
	name       string
	base, size uint64
	// end is base+size, for the lookup.
	end uint64
	dev bus.Device
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

	// unknownMu guards unknownAt and unknownElsewhere: per-address counts
	// of the accesses that hit no device, for -stats. Such an access has
	// already cost an exit to user space, so a lock here costs little.
	unknownMu sync.Mutex
	unknownAt map[uint64]*UnknownAccess
	// unknownElsewhereReads and unknownElsewhereWrites count unknown
	// accesses at addresses beyond the first maxUnknownAddrs, so that a
	// guest scanning memory cannot grow the map without bound.
	unknownElsewhereReads, unknownElsewhereWrites uint64
}

// UnknownAccess is what the bus saw at one address that no device decodes.
type UnknownAccess struct {
	Addr          uint64
	Reads, Writes uint64
	// Sizes has bit n set when an access of 1<<n bytes was seen.
	Sizes uint8
}

// Total is the number of accesses.
func (u UnknownAccess) Total() uint64 { return u.Reads + u.Writes }

// SizeList names the access widths seen, e.g. "1,4".
func (u UnknownAccess) SizeList() string {
	s := ""
	for n := 0; n < 8; n++ {
		if u.Sizes&(1<<n) != 0 {
			if s != "" {
				s += ","
			}
			s += fmt.Sprint(1 << n)
		}
	}
	return s
}

// maxUnknownAddrs bounds the distinct addresses counted one by one.
const maxUnknownAddrs = 4096

// NewBus returns an empty bus; name ("pio", "mmio") appears in messages.
func NewBus(name string) *Bus { return &Bus{name: name} }

// Register adds dev at [base, base+size). Overlapping an existing range, an
// empty range or one that wraps the address space is an error.
func (b *Bus) Register(name string, base, size uint64, dev bus.Device) error {
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
	r := &busRange{name: name, base: base, size: size, end: base + size, dev: dev}
	b.ranges = append(b.ranges, nil)
	copy(b.ranges[i+1:], b.ranges[i:])
	b.ranges[i] = r
	return nil
}

// find returns the range holding all of [addr, addr+n), or nil.
func (b *Bus) find(addr uint64, n int) *busRange {
	rs := b.ranges
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs[m].end <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	// rs[lo] is the first range that ends after addr, if any.
	if lo == len(rs) {
		return nil
	}
	if r := rs[lo]; r.holds(addr, n) {
		return r
	}
	return nil
}

// holds reports whether all of [addr, addr+n) lies in r.
func (r *busRange) holds(addr uint64, n int) bool {
	return addr >= r.base && addr-r.base+uint64(n) <= r.size
}

// Read dispatches a read of len(data) bytes at addr. An access that hits no
// device reads all-ones, as an empty ISA or PCI bus does, and is counted.
func (b *Bus) Read(addr uint64, data []byte) *busRange {
	r := b.find(addr, len(data))
	if r == nil {
		bus.FillOnes(data)
		b.unknownReads.Add(1)
		b.noteUnknown(false, addr, len(data))
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
		b.noteUnknown(true, addr, len(data))
		return nil
	}
	r.dev.Write(addr-r.base, data)
	return r
}

// maxUnknownLogged bounds the log lines about unknown accesses, so that a
// guest probing empty ports cannot flood the log.
const maxUnknownLogged = 8

// noteUnknown counts an access that hit no device by address, and logs the
// first few.
func (b *Bus) noteUnknown(write bool, addr uint64, n int) {
	b.unknownMu.Lock()
	u := b.unknownAt[addr]
	if u == nil && len(b.unknownAt) < maxUnknownAddrs {
		if b.unknownAt == nil {
			b.unknownAt = map[uint64]*UnknownAccess{}
		}
		u = &UnknownAccess{Addr: addr}
		b.unknownAt[addr] = u
	}
	switch {
	case u == nil && write:
		b.unknownElsewhereWrites++
	case u == nil:
		b.unknownElsewhereReads++
	default:
		if write {
			u.Writes++
		} else {
			u.Reads++
		}
		for w := 0; w < 8; w++ {
			if n == 1<<w {
				u.Sizes |= 1 << w
			}
		}
	}
	b.unknownMu.Unlock()
	if b.unknownLog != nil && b.logged.Add(1) <= maxUnknownLogged {
		b.unknownLog(write, addr, n)
	}
}

// TopUnknown returns the n addresses with the most accesses that hit no
// device, most first (ties by lower address), and the sum of the unknown
// accesses not among them in rest (its Addr is 0): other addresses, and
// those past the per-address bound, whose sizes are not known.
func (b *Bus) TopUnknown(n int) (top []UnknownAccess, rest UnknownAccess) {
	b.unknownMu.Lock()
	all := make([]UnknownAccess, 0, len(b.unknownAt))
	for _, u := range b.unknownAt {
		all = append(all, *u)
	}
	rest.Reads, rest.Writes = b.unknownElsewhereReads, b.unknownElsewhereWrites
	b.unknownMu.Unlock()
	sort.Slice(all, func(i, j int) bool {
		if ti, tj := all[i].Total(), all[j].Total(); ti != tj {
			return ti > tj
		}
		return all[i].Addr < all[j].Addr
	})
	n = max(n, 0)
	if len(all) > n {
		for _, u := range all[n:] {
			rest.Reads += u.Reads
			rest.Writes += u.Writes
			rest.Sizes |= u.Sizes
		}
		all = all[:n]
	}
	return all, rest
}
