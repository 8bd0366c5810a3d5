package pci

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// MSI-X layout (PCI 3.0 §6.8.2).
const (
	// MaxMSIXVectors is the largest table an MSI-X capability describes.
	MaxMSIXVectors = 2048
	msixCapLen     = 12
	msixEntrySize  = 16
	// Message control bits (§6.8.2.3).
	msixEnable       = 1 << 15
	msixFunctionMask = 1 << 14
	// Vector control bit 0 masks the vector (§6.8.2.9).
	msixVectorMasked = 1
	// Offsets inside a table entry (§6.8.2.6-9).
	msixAddrLo  = 0
	msixAddrHi  = 4
	msixData    = 8
	msixControl = 12
)

// MSIX is an MSI-X capability with its table and pending bit array, which
// live in a memory BAR of their own.
type MSIX struct {
	// ctrl delivers the messages. Immutable.
	ctrl MSIController
	// n is the number of vectors; tableSize and pbaOff locate the PBA in
	// the BAR. Immutable.
	n, tableSize, pbaOff int

	// mu guards everything below. It is taken inside the Config lock
	// (from the capability hook), never the other way round.
	mu sync.Mutex
	// table holds the entries as the guest sees them.
	table []byte
	// pba is the pending bit array, one bit per vector.
	pba []uint64
	// enabled and masked mirror message control bits 15 and 14.
	enabled, masked bool
}

// NewMSIX adds an MSI-X capability with n vectors to cfg and places its table
// (offset 0) and PBA in a new 32-bit memory BAR at index bar. Vectors start
// masked and MSI-X starts disabled, as after reset (§6.8.2.3, §6.8.2.9).
func NewMSIX(cfg *Config, bar, n int, ctrl MSIController) (*MSIX, error) {
	if n < 1 || n > MaxMSIXVectors {
		return nil, fmt.Errorf("pci: %d MSI-X vectors out of range", n)
	}
	if ctrl == nil {
		return nil, errors.New("pci: MSI-X without an MSIController")
	}
	m := &MSIX{ctrl: ctrl, n: n, tableSize: n * msixEntrySize}
	m.pbaOff = (m.tableSize + 7) &^ 7 // the PBA is qword aligned (§6.8.2.5)
	m.table = make([]byte, m.tableSize)
	m.pba = make([]uint64, (n+63)/64)
	for i := 0; i < n; i++ {
		m.table[i*msixEntrySize+msixControl] = msixVectorMasked
	}
	size := uint64(4096)
	for size < uint64(m.pbaOff+8*len(m.pba)) {
		size <<= 1
	}
	if err := cfg.AddBAR(bar, BAR{Size: size, Name: "msix", Handler: msixBAR{m}}); err != nil {
		return nil, err
	}
	cp := make([]byte, msixCapLen)
	cp[0] = CapIDMSIX
	binary.LittleEndian.PutUint16(cp[2:], uint16(n-1))
	binary.LittleEndian.PutUint32(cp[4:], uint32(0)|uint32(bar))
	binary.LittleEndian.PutUint32(cp[8:], uint32(m.pbaOff)|uint32(bar))
	wm := make([]byte, msixCapLen)
	wm[3] = (msixEnable | msixFunctionMask) >> 8
	if _, err := cfg.AddCapability(cp, wm, CapabilityHooks{Write: m.controlWritten}); err != nil {
		return nil, err
	}
	return m, nil
}

// Vectors is the table size.
func (m *MSIX) Vectors() int { return m.n }

// Enabled reports whether the guest has enabled MSI-X. While it has not,
// the function signals with INTx.
func (m *MSIX) Enabled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enabled
}

// Pending reports vector v's pending bit.
func (m *MSIX) Pending(v uint16) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int(v) < m.n && m.pba[v/64]&(1<<(v%64)) != 0
}

// Vector is a handle on one MSI-X vector.
type Vector struct {
	m *MSIX
	n uint16
}

// Vector returns a handle on vector n.
func (m *MSIX) Vector(n uint16) Vector { return Vector{m, n} }

// Signal raises the vector; see MSIX.Signal.
func (v Vector) Signal() (bool, error) { return v.m.Signal(v.n) }

// Signal raises vector v (§6.8.2.9): with MSI-X enabled and neither the
// function nor the vector masked, it sends the vector's message; while
// masked, it sets the pending bit and the message goes out on unmask. With
// MSI-X disabled it does nothing and returns false: the caller uses its
// INTx line instead. A vector outside the table is an error.
func (m *MSIX) Signal(v uint16) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.enabled {
		return false, nil
	}
	if int(v) >= m.n {
		return true, fmt.Errorf("pci: MSI-X vector %d out of range (table size %d)", v, m.n)
	}
	if m.masked || m.vectorMasked(int(v)) {
		m.pba[v/64] |= 1 << (v % 64)
		return true, nil
	}
	return true, m.send(int(v))
}

func (m *MSIX) vectorMasked(v int) bool {
	return m.table[v*msixEntrySize+msixControl]&msixVectorMasked != 0
}

// send delivers vector v's message. With mu held.
func (m *MSIX) send(v int) error {
	e := m.table[v*msixEntrySize:]
	addr := uint64(binary.LittleEndian.Uint32(e[msixAddrLo:])) | uint64(binary.LittleEndian.Uint32(e[msixAddrHi:]))<<32
	return m.ctrl.SignalMSI(addr, binary.LittleEndian.Uint32(e[msixData:]))
}

// deliverPending sends every pending vector that is no longer masked and
// clears its pending bit (§6.8.2.10). With mu held.
func (m *MSIX) deliverPending() {
	if !m.enabled || m.masked {
		return
	}
	for w, bits := range m.pba {
		for bits != 0 {
			b := 0
			for bits&(1<<b) == 0 {
				b++
			}
			bits &^= 1 << b
			v := w*64 + b
			if !m.vectorMasked(v) {
				m.pba[w] &^= 1 << b
				// An error here has no one to go to: the guest gets
				// no interrupt, as with a lost message.
				_ = m.send(v)
			}
		}
	}
}

// controlWritten is the capability write hook: it picks up the enable and
// function mask bits. It runs with the Config lock held.
func (m *MSIX) controlWritten(c []byte, off, n int) {
	ctl := binary.LittleEndian.Uint16(c[2:])
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enabled = ctl&msixEnable != 0
	m.masked = ctl&msixFunctionMask != 0
	m.deliverPending()
}

// msixBAR is the BAR holding the table and the PBA.
type msixBAR struct{ m *MSIX }

// Read implements bus.Device. The table and PBA take dword and qword reads
// (§6.8.2); anything else reads as zero.
func (b msixBAR) Read(off uint64, data []byte) {
	m := b.m
	clear(data)
	n := uint64(len(data))
	if (n != 4 && n != 8) || off%n != 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case off+n <= uint64(m.tableSize):
		copy(data, m.table[off:])
	case off >= uint64(m.pbaOff) && off+n <= uint64(m.pbaOff+8*len(m.pba)):
		var buf [8]byte
		o := off - uint64(m.pbaOff)
		binary.LittleEndian.PutUint64(buf[:], m.pba[o/8])
		copy(data, buf[o%8:])
	}
}

// Write implements bus.Device. Only the table is writable; the PBA is
// read-only (§6.8.2.10). Unmasking a vector delivers its pending message.
func (b msixBAR) Write(off uint64, data []byte) {
	m := b.m
	n := uint64(len(data))
	if (n != 4 && n != 8) || off%n != 0 || off+n > uint64(m.tableSize) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(m.table[off:], data)
	first, last := int(off/msixEntrySize), int((off+n-1)/msixEntrySize)
	for v := first; v <= last; v++ {
		e := m.table[v*msixEntrySize:]
		e[msixAddrLo] &^= 0x3              // message address bits 1:0 are zero (§6.8.2.6)
		e[msixControl] &= msixVectorMasked // vector control bits 31:1 are reserved (§6.8.2.9)
		clear(e[msixControl+1 : msixControl+4])
	}
	m.deliverPending()
}
