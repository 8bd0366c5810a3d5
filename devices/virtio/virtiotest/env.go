package virtiotest

import (
	"fmt"
	"time"

	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/memory"
)

// Test machine layout.
const (
	// MemSize is the test guest's RAM, at address 0.
	MemSize = 4 << 20
	// WindowBase and WindowSize are the PCI MMIO window.
	WindowBase = 0xC000_0000
	WindowSize = 0x1000_0000
	// Timeout bounds every wait in tests.
	Timeout = 5 * time.Second
)

// Env is a device on a PCI bus in a test machine, with a driver attached.
type Env struct {
	// Mem is guest RAM (MemSize bytes at 0); Alloc hands out pieces of it
	// above the first page.
	Mem   *memory.Memory
	Alloc *Allocator
	// Bus is the PCI bus the device sits on, with its window at WindowBase.
	Bus *pci.Bus
	// MSI and IRQ receive the device's interrupts.
	MSI *FakeMSI
	IRQ *FakeIRQ
	// T is the device's transport and Slot its place on the bus.
	T    *virtio.PCI
	Slot *pci.Slot
	// D is the fake guest driver attached to it.
	D *PCIDriver
}

// NewEnv builds the machine around dev (not yet initialized by the driver).
func NewEnv(dev virtio.Device) (*Env, error) {
	e := &Env{Mem: NewMemory(MemSize), MSI: NewFakeMSI(), IRQ: NewFakeIRQ()}
	e.Alloc = NewAllocator(0x1000, MemSize)
	e.Bus = pci.NewBus(WindowBase, WindowSize)
	t, err := virtio.NewPCI(dev, e.Mem, e.MSI, e.IRQ)
	if err != nil {
		return nil, err
	}
	e.T = t
	if e.Slot, err = e.Bus.Add(t); err != nil {
		t.Close()
		return nil, err
	}
	if e.D, err = NewPCIDriver(e.Bus, e.Slot.Number()); err != nil {
		t.Close()
		return nil, err
	}
	return e, nil
}

// NewQueue lays out a driver queue of size entries in fresh memory.
func (e *Env) NewQueue(size uint16) *SplitQueue {
	q, err := NewSplitQueue(e.Mem, e.Alloc.Alloc(Footprint(size), 4096), size)
	if err != nil {
		panic(err)
	}
	return q
}

// Buf allocates an n-byte buffer filled with fill.
func (e *Env) Buf(n uint64, fill byte) memory.GuestAddress {
	a := e.Alloc.Alloc(n, 16)
	b, err := e.Mem.Slice(a, n)
	if err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = fill
	}
	return a
}

// Bytes returns a copy of n bytes of guest memory at a.
func (e *Env) Bytes(a memory.GuestAddress, n uint64) []byte {
	p := make([]byte, n)
	if err := e.Mem.Read(a, p); err != nil {
		panic(err)
	}
	return p
}

// Start initializes the device with the given features and queues and
// MSI-X on.
func (e *Env) Start(features uint64, queues ...*SplitQueue) error {
	return e.D.Init(InitOptions{Features: features, Queues: queues, MSIX: true})
}

// WaitQueue waits for queue i's MSI-X vector (1+i).
func (e *Env) WaitQueue(i int) error { return e.MSI.Wait(uint32(1+i), Timeout) }

// WaitConfig waits for the configuration change vector (0).
func (e *Env) WaitConfig() error { return e.MSI.Wait(0, Timeout) }

// Submit kicks queue i, waits for its interrupt and returns the next used
// element.
func (e *Env) Submit(i int, q *SplitQueue) (Used, error) {
	e.D.Kick(i)
	if err := e.WaitQueue(i); err != nil {
		return Used{}, err
	}
	u, ok, err := q.PopUsed()
	if err != nil {
		return Used{}, err
	}
	if !ok {
		return Used{}, fmt.Errorf("virtiotest: interrupt without a used element")
	}
	return u, nil
}

// Close closes the transport.
func (e *Env) Close() error { return e.T.Close() }
