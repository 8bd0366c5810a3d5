package virtio

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/memory"
)

// PCI is the modern virtio PCI transport (virtio 1.2 §4.1) around one
// Device. It is a pci.Device: add it to a pci.Bus.
type PCI struct {
	// Immutable after NewPCI: the device model, guest RAM, the PCI
	// function's configuration space and MSI-X capability, the INTx line
	// (may be nil), BAR 0's handler, the offered feature bits (device bits
	// plus VERSION_1, EVENT_IDX, INDIRECT_DESC), the number of queues and
	// their maximum sizes.
	dev      Device
	mem      *memory.Memory
	cfg      *pci.Config
	msix     *pci.MSIX
	irq      pci.IRQLine
	bar      barHandler
	offered  uint64
	nq       int
	maxSizes []uint16
	// notifiers are the queues' eventfds; stopFD wakes the worker to make
	// it exit. fdMu guards the descriptors' validity: kicks hold it for
	// reading, Close for writing.
	fdMu      sync.RWMutex
	notifiers []notifier
	stopFD    int

	// mu guards the register state and the worker's lifecycle. The worker
	// never takes it.
	mu sync.Mutex
	// served counts the chains all queues returned to the driver.
	served atomic.Uint64
	// status is device_status without DEVICE_NEEDS_RESET (see needsReset).
	status           uint8
	deviceFeatureSel uint32
	driverFeatureSel uint32
	driverFeatures   uint64
	features         uint64 // negotiated, valid once FEATURES_OK is set
	queueSel         uint16
	queues           []queueRegs
	worker           *worker
	closed           bool

	// State shared with the worker.

	// configVector and vectors hold config_msix_vector and each
	// queue_msix_vector (written under mu, read by the worker).
	configVector atomic.Uint32
	vectors      []atomic.Uint32
	// needsReset is DEVICE_NEEDS_RESET (§2.1.2).
	needsReset atomic.Bool
	// intxMu guards isr and the INTx line level.
	intxMu sync.Mutex
	isr    uint8
	// errMu guards err, the first queue failure since the last reset.
	errMu sync.Mutex
	err   error
}

// queueRegs is the driver-visible configuration of one queue. Guarded by
// PCI.mu.
type queueRegs struct {
	size                 uint16
	enabled              bool
	desc, driver, device uint64
}

// NewPCI wraps dev in a PCI transport. mem is guest RAM, msi delivers MSI-X
// messages, irq is the INTx line (may be nil if the guest is known to use
// MSI-X). It allocates one eventfd per queue; Close releases them.
func NewPCI(dev Device, mem *memory.Memory, msi pci.MSIController, irq pci.IRQLine) (*PCI, error) {
	sizes := dev.QueueSizes()
	if len(sizes) == 0 || len(sizes) > maxQueues || len(sizes)+1 > pci.MaxMSIXVectors {
		return nil, fmt.Errorf("virtio: %d queues not supported", len(sizes))
	}
	for i, s := range sizes {
		if s == 0 || s&(s-1) != 0 || s > MaxQueueSize {
			return nil, fmt.Errorf("virtio: queue %d maximum size %d is not a power of two <= %d", i, s, MaxQueueSize)
		}
	}
	t := &PCI{
		dev: dev, mem: mem, irq: irq,
		offered:   dev.Features() | FeatureVersion1 | FeatureEventIdx | FeatureIndirectDesc,
		nq:        len(sizes),
		maxSizes:  append([]uint16(nil), sizes...),
		notifiers: make([]notifier, len(sizes)),
		queues:    make([]queueRegs, len(sizes)),
		vectors:   make([]atomic.Uint32, len(sizes)),
		stopFD:    -1,
	}
	t.bar = barHandler{t}
	for i := range t.notifiers {
		t.notifiers[i].fd = -1
	}
	if err := t.openEventfds(); err != nil {
		t.closeEventfds()
		return nil, err
	}
	t.cfg = pci.NewConfig(pci.Header{
		VendorID:          PCIVendorID,
		DeviceID:          PCIDeviceIDBase + dev.Type(),
		Revision:          PCIRevision,
		Class:             pciClass(dev.Type()),
		SubsystemVendorID: pciSubsysVendorID,
		SubsystemID:       PCIDeviceIDBase + dev.Type(),
		InterruptPin:      1, // INTA#
	})
	err := t.cfg.AddBAR(virtioBAR, pci.BAR{Size: virtioSize, Is64: true, Name: "virtio", Handler: t.bar})
	if err == nil {
		// One vector for configuration changes plus one per queue.
		t.msix, err = pci.NewMSIX(t.cfg, msixBAR, 1+t.nq, msi)
	}
	if err == nil {
		err = t.addCapabilities(t.cfg)
	}
	if err != nil {
		t.closeEventfds()
		return nil, err
	}
	t.resetRegsLocked()
	if k, ok := dev.(Kicker); ok {
		k.SetKick(t.kick)
	}
	if c, ok := dev.(ConfigNotifier); ok {
		c.SetConfigChanged(t.signalConfig)
	}
	return t, nil
}

// pciClass picks the class code for a device type (as QEMU does); Linux's
// virtio-pci driver matches on IDs only.
func pciClass(typ uint16) uint32 {
	switch typ {
	case DeviceIDNet:
		return 0x020000 // network, Ethernet
	case DeviceIDBlock:
		return 0x018000 // mass storage, other
	case DeviceIDConsole:
		return 0x078000 // communication, other
	default:
		return 0x00FF00 // unclassified
	}
}

func (t *PCI) openEventfds() error {
	fd, err := newEventfd()
	if err != nil {
		return fmt.Errorf("virtio: eventfd: %w", err)
	}
	t.stopFD = fd
	for i := range t.notifiers {
		fd, err := newEventfd()
		if err != nil {
			return fmt.Errorf("virtio: eventfd: %w", err)
		}
		t.notifiers[i].fd = fd
	}
	return nil
}

func (t *PCI) closeEventfds() {
	closeFD(&t.stopFD)
	for i := range t.notifiers {
		closeFD(&t.notifiers[i].fd)
	}
}

// PCIConfig implements pci.Device.
func (t *PCI) PCIConfig() *pci.Config { return t.cfg }

// IoEventFd is a notify address for KVM_IOEVENTFD: a guest write of Len
// bytes at Addr should signal FD (no datamatch needed: every queue has its
// own address). Queue is the queue index.
type IoEventFd struct {
	Addr  uint64
	Len   uint32
	FD    int
	Queue int
}

// Ioeventfds returns one binding per queue. Call it after the device was
// added to the bus (the addresses depend on BAR 0's placement). Linux
// writes the queue index as a 16-bit value (vp_notify), hence Len 2; a
// machine with KVM_CAP_IOEVENTFD_ANY_LENGTH may register Len 0 instead.
// The FDs stay owned by the transport and valid until Close.
func (t *PCI) Ioeventfds() []IoEventFd {
	base := t.cfg.BARAddress(virtioBAR)
	r := make([]IoEventFd, t.nq)
	for i := range r {
		r[i] = IoEventFd{
			Addr:  base + notifyOffset + NotifyOffMultiplier*uint64(i),
			Len:   2,
			FD:    t.notifiers[i].fd,
			Queue: i,
		}
	}
	return r
}

// Served returns how many buffers (descriptor chains) the device has
// returned to the driver since it was created, for statistics.
func (t *PCI) Served() uint64 { return t.served.Load() }

// Err returns the first queue failure since the last reset, or nil. A
// failure also shows as DEVICE_NEEDS_RESET in the status register.
func (t *PCI) Err() error {
	t.errMu.Lock()
	defer t.errMu.Unlock()
	return t.err
}

// fail records a broken queue (i < 0: the worker itself), sets
// DEVICE_NEEDS_RESET and sends a configuration change notification
// (§2.1.2, §4.1.5.3).
func (t *PCI) fail(i int, err error) {
	t.errMu.Lock()
	if t.err == nil {
		if i >= 0 {
			t.err = fmt.Errorf("virtio: queue %d: %w", i, err)
		} else {
			t.err = fmt.Errorf("virtio: worker: %w", err)
		}
	}
	t.errMu.Unlock()
	if !t.needsReset.Swap(true) {
		t.signalConfig()
	}
}

// Close stops the worker, closes the device and releases the eventfds.
// The machine must have unbound the ioeventfds (or be tearing the VM down).
func (t *PCI) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("virtio: transport already closed")
	}
	t.closed = true
	t.stopWorkerLocked()
	err := t.dev.Close()
	t.fdMu.Lock()
	t.closeEventfds()
	t.fdMu.Unlock()
	return err
}
