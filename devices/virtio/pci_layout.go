package virtio

import (
	"encoding/binary"

	"github.com/govmm/govmm/devices/pci"
)

// PCI identity (virtio 1.2 §4.1.2): Red Hat's virtio vendor ID, device ID
// 0x1040 + device type, revision 1 (a non-transitional device).
const (
	PCIVendorID       = 0x1af4
	PCIDeviceIDBase   = 0x1040
	PCIRevision       = 1
	pciSubsysVendorID = 0x1af4
)

// Vendor-specific capability types (virtio 1.2 §4.1.4).
const (
	capCommonCfg = 1
	capNotifyCfg = 2
	capISRCfg    = 3
	capDeviceCfg = 4
	capPCICfg    = 5
)

// BAR layout. Everything the driver touches lives in the 64-bit BAR 0;
// the MSI-X table and PBA get 32-bit BAR 2 (BAR 0 takes slots 0 and 1).
const (
	virtioBAR = 0
	msixBAR   = 2

	commonOffset = 0x0000
	isrOffset    = 0x1000
	isrLen       = 1
	deviceOffset = 0x2000
	deviceMaxLen = 0x1000
	notifyOffset = 0x3000
	// NotifyOffMultiplier is the distance between queue notify
	// addresses: queue i is notified at notifyOffset + 4*i
	// (queue_notify_off = i; §4.1.4.4).
	NotifyOffMultiplier = 4
	// maxQueues bounds the notify region to one page.
	maxQueues  = 0x1000 / NotifyOffMultiplier
	virtioSize = 0x4000
)

// Lengths of the vendor capabilities (virtio 1.2 §4.1.4: struct
// virtio_pci_cap is 16 bytes, the notify and PCI-config variants 20).
const (
	capLen       = 16
	notifyCapLen = 20
	cfgCapLen    = 20
	// cfgCapData is the offset of pci_cfg_data in virtio_pci_cfg_cap.
	cfgCapData = 16
)

// virtioCap builds a struct virtio_pci_cap (§4.1.4): cap_vndr, cap_next,
// cap_len, cfg_type, bar, id, padding[2], offset, length.
func virtioCap(typ uint8, length int, off, n uint32) []byte {
	c := make([]byte, length)
	c[0] = pci.CapIDVendor
	c[2] = byte(length)
	c[3] = typ
	c[4] = virtioBAR
	binary.LittleEndian.PutUint32(c[8:], off)
	binary.LittleEndian.PutUint32(c[12:], n)
	return c
}

// addCapabilities adds the five vendor capabilities to cfg.
func (t *PCI) addCapabilities(cfg *pci.Config) error {
	devLen := uint32(min(t.dev.ConfigSize(), deviceMaxLen))
	caps := [][]byte{
		virtioCap(capCommonCfg, capLen, commonOffset, commonCfgLen),
		virtioCap(capISRCfg, capLen, isrOffset, isrLen),
	}
	if devLen > 0 {
		caps = append(caps, virtioCap(capDeviceCfg, capLen, deviceOffset, devLen))
	}
	notify := virtioCap(capNotifyCfg, notifyCapLen, notifyOffset, uint32(NotifyOffMultiplier*t.nq))
	binary.LittleEndian.PutUint32(notify[16:], NotifyOffMultiplier)
	caps = append(caps, notify)
	for _, c := range caps {
		if _, err := cfg.AddCapability(c, nil, pci.CapabilityHooks{}); err != nil {
			return err
		}
	}
	// VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): a window into BAR 0 through
	// configuration space. bar, offset, length and pci_cfg_data are
	// writable.
	c := virtioCap(capPCICfg, cfgCapLen, 0, 0)
	wm := make([]byte, cfgCapLen)
	wm[4] = 0xFF
	for i := 8; i < cfgCapLen; i++ {
		wm[i] = 0xFF
	}
	_, err := cfg.AddCapability(c, wm, pci.CapabilityHooks{Read: t.cfgCapRead, Write: t.cfgCapWrite})
	return err
}

// cfgCapAccess decodes the PCI_CFG capability's window: the BAR 0 offset
// and length of the access it describes, if valid (§4.1.4.9.1: length 1, 2
// or 4, offset aligned to it, inside the BAR).
func cfgCapAccess(c []byte) (uint64, int, bool) {
	bar := c[4]
	off := binary.LittleEndian.Uint32(c[8:])
	n := binary.LittleEndian.Uint32(c[12:])
	if bar != virtioBAR || (n != 1 && n != 2 && n != 4) || off%n != 0 || uint64(off)+uint64(n) > virtioSize {
		return 0, 0, false
	}
	return uint64(off), int(n), true
}

// cfgCapRead performs the BAR read when the driver reads pci_cfg_data.
func (t *PCI) cfgCapRead(c []byte, off, n int) {
	if off+n <= cfgCapData {
		return
	}
	if o, l, ok := cfgCapAccess(c); ok {
		t.bar.Read(o, c[cfgCapData:cfgCapData+l])
	}
}

// cfgCapWrite performs the BAR write when the driver writes pci_cfg_data.
func (t *PCI) cfgCapWrite(c []byte, off, n int) {
	if off+n <= cfgCapData {
		return
	}
	if o, l, ok := cfgCapAccess(c); ok {
		t.bar.Write(o, c[cfgCapData:cfgCapData+l])
	}
}
