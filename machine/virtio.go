package machine

import (
	"fmt"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/kvm"
)

// Disk is one -disk: a raw image file.
type Disk struct {
	Path     string
	ReadOnly bool
}

// pciINTxBase is the first IOAPIC pin for PCI INTx; pins 0-15 carry the
// edge-triggered ISA interrupts. The MP table routes slot s, INTA to pin
// pciINTxBase + s%8.
const pciINTxBase = 16

// virtioDevice is one virtio transport and its KVM ioeventfd bindings.
type virtioDevice struct {
	name string
	t    *virtio.PCI
	// slot is the PCI slot; gsi the IOAPIC pin of its INTA (for the MP table).
	slot, gsi uint8
	// bound are the ioeventfds currently registered with KVM; guarded by
	// the machine's ioeventfdMu (BAR moves re-bind them).
	bound []kvm.IOEvent
}

// addVirtio adds one virtio device to PCI bus 0, with MSI-X through
// KVM_SIGNAL_MSI, INTx as a fallback, and its queue notifications bound
// with KVM_IOEVENTFD so that a kick never exits to user space.
func (m *Machine) addVirtio(name string, dev virtio.Device) (*virtio.PCI, error) {
	slotNum := len(m.virtio) + 2 // 0: host bridge, 1: pvpanic
	gsi := uint32(pciINTxBase + slotNum%8)
	t, err := virtio.NewPCI(dev, m.mem, m.vm, m.newIRQLine(gsi))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	slot, err := m.pci.Add(t)
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	slot.SetInterruptLine(uint8(gsi))
	d := &virtioDevice{name: name, t: t, slot: uint8(slot.Number()), gsi: uint8(gsi)}
	m.virtio = append(m.virtio, d)
	m.closers = append(m.closers, func() error {
		m.unbind(d)
		return t.Close()
	})
	if err := m.bind(d); err != nil {
		return nil, err
	}
	m.logf("%s: PCI 00:%02x.0, INTx GSI %d, %d ioeventfds", name, slot.Number(), gsi, len(d.bound))
	return t, nil
}

// bind registers the transport's queue notify addresses with KVM.
func (m *Machine) bind(d *virtioDevice) error {
	m.ioeventfdMu.Lock()
	defer m.ioeventfdMu.Unlock()
	for _, f := range d.t.Ioeventfds() {
		e := kvm.IOEvent{Addr: f.Addr, Len: f.Len, FD: f.FD}
		if err := m.vm.IOEventFD(e, false); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		d.bound = append(d.bound, e)
	}
	return nil
}

// unbind removes the transport's ioeventfds; kicks then reach the notify
// register through the MMIO bus, which signals the same eventfds.
func (m *Machine) unbind(d *virtioDevice) {
	m.ioeventfdMu.Lock()
	defer m.ioeventfdMu.Unlock()
	for _, e := range d.bound {
		m.vm.IOEventFD(e, true)
	}
	d.bound = nil
}

// rebindAll follows a BAR the guest moved: KVM's bindings are by address.
func (m *Machine) rebindAll(oldAddr, newAddr, size uint64) {
	m.logf("PCI BAR moved from %#x to %#x (%#x bytes): re-binding ioeventfds", oldAddr, newAddr, size)
	for _, d := range m.virtio {
		m.unbind(d)
		if err := m.bind(d); err != nil {
			m.logf("%v", err)
		}
	}
}

// createVirtio adds the devices the configuration asks for.
func (m *Machine) createVirtio() error {
	m.pci.OnBARMove = m.rebindAll
	for _, d := range m.cfg.Disks {
		blk, err := virtio.NewBlock(d.Path, d.ReadOnly)
		if err != nil {
			return fmt.Errorf("-disk %s: %w", d.Path, err)
		}
		if _, err := m.addVirtio("virtio-blk "+d.Path, blk); err != nil {
			return err
		}
	}
	if m.cfg.RNG {
		if _, err := m.addVirtio("virtio-rng", virtio.NewRNG()); err != nil {
			return err
		}
	}
	if m.cfg.VirtioConsole {
		m.VirtioConsole = virtio.NewConsole(m.cfg.Console)
		if _, err := m.addVirtio("virtio-console", m.VirtioConsole); err != nil {
			return err
		}
	}
	return nil
}
