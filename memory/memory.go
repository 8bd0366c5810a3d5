// Package memory is guest-physical memory as the VMM sees it: a few
// host-mapped regions, and accessors that check every guest-supplied address
// and length before touching host memory.
//
// Everything a device reads from the guest goes through these accessors, so a
// hostile guest can at worst get an error back, never a host panic. Devices
// import this package; they never import machine.
package memory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
)

// GuestAddress is a guest-physical address. It has its own type so that a host
// offset or a length is never passed where a guest address belongs.
type GuestAddress uint64

// Region is one contiguous run of guest RAM backed by host memory.
type Region struct {
	// Start is the guest-physical address of Data[0].
	Start GuestAddress
	// Data is the host mapping of the region; len(Data) is its size.
	Data []byte
}

// End is the first guest address after the region.
func (r Region) End() GuestAddress { return r.Start + GuestAddress(len(r.Data)) }

// ErrOutOfRange is wrapped by every accessor error caused by an address or a
// length that does not lie entirely inside one RAM region.
var ErrOutOfRange = errors.New("guest memory access out of range")

// RangeError reports the access that failed.
type RangeError struct {
	Addr GuestAddress
	Len  uint64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("guest memory access out of range: [%#x, +%#x)", uint64(e.Addr), e.Len)
}

// Unwrap lets errors.Is(err, ErrOutOfRange) match.
func (e *RangeError) Unwrap() error { return ErrOutOfRange }

// Memory is the guest's RAM. Its regions do not overlap and are sorted by
// Start. The zero value has no RAM and fails every access.
type Memory struct {
	regions []Region
}

// New returns guest memory over the given regions, which must not overlap or
// be empty. The slices are used as they are: New copies nothing.
func New(regions ...Region) (*Memory, error) {
	rs := append([]Region(nil), regions...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	for i, r := range rs {
		if len(r.Data) == 0 {
			return nil, fmt.Errorf("memory: region at %#x is empty", uint64(r.Start))
		}
		if r.End() < r.Start {
			return nil, fmt.Errorf("memory: region at %#x wraps the address space", uint64(r.Start))
		}
		if i > 0 && rs[i-1].End() > r.Start {
			return nil, fmt.Errorf("memory: regions at %#x and %#x overlap", uint64(rs[i-1].Start), uint64(r.Start))
		}
	}
	return &Memory{regions: rs}, nil
}

// Regions returns the RAM regions, sorted by start address. The caller must
// not modify the returned slice.
func (m *Memory) Regions() []Region { return m.regions }

// Size is the total amount of RAM in bytes.
func (m *Memory) Size() uint64 {
	var n uint64
	for _, r := range m.regions {
		n += uint64(len(r.Data))
	}
	return n
}

// Slice returns the host bytes behind [addr, addr+n). The range must lie
// inside one region. The slice aliases guest memory: the guest can change it
// at any time, so copy out anything that will be validated (double fetch).
func (m *Memory) Slice(addr GuestAddress, n uint64) ([]byte, error) {
	end := addr + GuestAddress(n)
	if end < addr {
		return nil, &RangeError{addr, n}
	}
	// Regions are few (one or two), so a linear scan beats a binary search.
	for i := range m.regions {
		r := &m.regions[i]
		if addr >= r.Start && end <= r.End() {
			off := uint64(addr - r.Start)
			return r.Data[off : off+n : off+n], nil
		}
	}
	return nil, &RangeError{addr, n}
}

// Contains reports whether [addr, addr+n) is RAM.
func (m *Memory) Contains(addr GuestAddress, n uint64) bool {
	_, err := m.Slice(addr, n)
	return err == nil
}

// Read copies len(p) bytes at addr into p.
func (m *Memory) Read(addr GuestAddress, p []byte) error {
	b, err := m.Slice(addr, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(p, b)
	return nil
}

// Write copies p into guest memory at addr.
func (m *Memory) Write(addr GuestAddress, p []byte) error {
	b, err := m.Slice(addr, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(b, p)
	return nil
}

// Zero clears n bytes at addr.
func (m *Memory) Zero(addr GuestAddress, n uint64) error {
	b, err := m.Slice(addr, n)
	if err != nil {
		return err
	}
	clear(b)
	return nil
}

// Uint8 reads one byte.
func (m *Memory) Uint8(addr GuestAddress) (uint8, error) {
	b, err := m.Slice(addr, 1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Uint16 reads a little-endian 16-bit value.
func (m *Memory) Uint16(addr GuestAddress) (uint16, error) {
	b, err := m.Slice(addr, 2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

// Uint32 reads a little-endian 32-bit value.
func (m *Memory) Uint32(addr GuestAddress) (uint32, error) {
	b, err := m.Slice(addr, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// Uint64 reads a little-endian 64-bit value.
func (m *Memory) Uint64(addr GuestAddress) (uint64, error) {
	b, err := m.Slice(addr, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// PutUint8 writes one byte.
func (m *Memory) PutUint8(addr GuestAddress, v uint8) error {
	b, err := m.Slice(addr, 1)
	if err != nil {
		return err
	}
	b[0] = v
	return nil
}

// PutUint16 writes a little-endian 16-bit value.
func (m *Memory) PutUint16(addr GuestAddress, v uint16) error {
	b, err := m.Slice(addr, 2)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint16(b, v)
	return nil
}

// PutUint32 writes a little-endian 32-bit value.
func (m *Memory) PutUint32(addr GuestAddress, v uint32) error {
	b, err := m.Slice(addr, 4)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b, v)
	return nil
}

// PutUint64 writes a little-endian 64-bit value.
func (m *Memory) PutUint64(addr GuestAddress, v uint64) error {
	b, err := m.Slice(addr, 8)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(b, v)
	return nil
}

var fenceWord atomic.Uint32

// Fence is a full memory barrier (a locked instruction on x86). Virtqueue code
// calls it between publishing a used element and reading the driver's
// notification suppression fields, the store-load order that x86 does not
// keep by itself (virtio 1.2 §2.7.7.2).
func Fence() { fenceWord.Add(1) }
