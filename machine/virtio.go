package machine

import (
	"fmt"

	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/share"
)

// Disk is one -disk: a raw image file.
type Disk struct {
	Path     string
	ReadOnly bool
}

// Share is one -share: a host directory served over virtio-9p, which the
// guest mounts by Tag (mount -t 9p -o trans=virtio TAG DIR).
type Share struct {
	Dir      string
	Tag      string
	ReadOnly bool
}

// addVirtio adds one virtio device to PCI bus 0 through the device manager
// (devices.go): the next free slot, an INTx line on the least-used pin (the
// fallback until the driver enables MSI-X), MSI-X through KVM_SIGNAL_MSI,
// and its queue notifications bound with KVM_IOEVENTFD so that a kick never
// exits to user space. If virtio.NewPCI fails, dev is left to the caller;
// any later error has closed it (or leaves it to Machine.Close).
func (m *Machine) addVirtio(name string, dev virtio.Device) (*virtio.PCI, error) {
	var t *virtio.PCI
	_, err := m.devs.addPCI(name, true, func(irq pci.IRQLine) (pci.Device, error) {
		var err error
		t, err = virtio.NewPCI(dev, m.mem, m.devs.vm, irq)
		return t, err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// createVirtio adds the devices the configuration asks for.
func (m *Machine) createVirtio() error {
	for _, d := range m.cfg.Disks {
		blk, err := virtio.NewBlock(d.Path, d.ReadOnly)
		if err != nil {
			return fmt.Errorf("-disk %s: %w", d.Path, err)
		}
		if _, err := m.addVirtio("virtio-blk "+d.Path, blk); err != nil {
			return err
		}
	}
	for _, sh := range m.cfg.Shares {
		srv, err := share.New(sh.Dir, sh.ReadOnly)
		if err != nil {
			return fmt.Errorf("-share %s: %w", sh.Dir, err)
		}
		dev, err := virtio.NewNineP(sh.Tag, srv)
		if err != nil {
			srv.Close()
			return fmt.Errorf("-share %s: %w", sh.Dir, err)
		}
		if _, err := m.addVirtio("virtio-9p "+sh.Tag, dev); err != nil {
			dev.Close()
			return err
		}
	}
	for i, n := range m.cfg.Nets {
		if err := m.addNet(i, n); err != nil {
			return err
		}
	}
	if m.cfg.RNG {
		if _, err := m.addVirtio("virtio-rng", virtio.NewRNG()); err != nil {
			return err
		}
	}
	if m.cfg.VirtioConsole {
		out := m.cfg.Console
		if m.cfg.VirtioConsoleOut != nil {
			out = m.cfg.VirtioConsoleOut
		}
		m.VirtioConsole = virtio.NewConsole(out)
		if _, err := m.addVirtio("virtio-console", m.VirtioConsole); err != nil {
			return err
		}
	}
	return nil
}
