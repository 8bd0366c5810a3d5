package virtiotest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/govmm/govmm/devices/bus"
	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/virtio"
)

// MSIAddr is the message address the driver programs (the local APIC
// window); data is the vector number.
const MSIAddr = 0xFEE0_0000

// PCIDriver reaches one virtio PCI function the way a guest does: through
// configuration mechanism #1 and MMIO in the bus window. It finds the
// virtio structures by walking the capability list (virtio 1.2 §4.1.4).
type PCIDriver struct {
	io   *pci.ConfigIO
	mmio bus.Device
	// windowBase is the guest address of the bus's MMIO window.
	windowBase uint64
	slot       uint32
	// Common, ISR, DeviceCfg and Notify are guest addresses of the
	// structures; NotifyMult is notify_off_multiplier.
	Common, ISR, DeviceCfg, Notify uint64
	NotifyMult                     uint32
	// MSIXCap and CfgCap are configuration offsets of the MSI-X and
	// VIRTIO_PCI_CAP_PCI_CFG capabilities; MSIXTable the table address.
	MSIXCap, CfgCap uint32
	MSIXTable       uint64
	// notifyOff holds each queue's queue_notify_off, read at setup.
	notifyOff map[int]uint16
}

// NewPCIDriver attaches to the function in slot on bus.
func NewPCIDriver(bus *pci.Bus, slot int) (*PCIDriver, error) {
	w := bus.MMIORegions()[0]
	d := &PCIDriver{io: bus.ConfigIO(), mmio: w.Dev, windowBase: w.Addr, slot: uint32(slot), notifyOff: map[int]uint16{}}
	if v := d.CfgRead(0, 2); v != virtio.PCIVendorID {
		return nil, fmt.Errorf("virtiotest: slot %d vendor %#x", slot, v)
	}
	seen := 0
	for ptr := d.CfgRead(0x34, 1); ptr != 0; ptr = d.CfgRead(ptr+1, 1) {
		if seen++; seen > 48 {
			return nil, errors.New("virtiotest: capability list loops")
		}
		switch d.CfgRead(ptr, 1) {
		case pci.CapIDMSIX:
			d.MSIXCap = ptr
			tbl := d.CfgRead(ptr+4, 4)
			d.MSIXTable = d.barAddr(int(tbl&7)) + uint64(tbl&^7)
		case pci.CapIDVendor:
			bar := int(d.CfgRead(ptr+4, 1))
			addr := d.barAddr(bar) + uint64(d.CfgRead(ptr+8, 4))
			switch d.CfgRead(ptr+3, 1) {
			case 1:
				d.Common = addr
			case 2:
				d.Notify = addr
				d.NotifyMult = d.CfgRead(ptr+16, 4)
			case 3:
				d.ISR = addr
			case 4:
				d.DeviceCfg = addr
			case 5:
				d.CfgCap = ptr
			}
		}
	}
	if d.Common == 0 || d.Notify == 0 || d.ISR == 0 {
		return nil, errors.New("virtiotest: missing virtio capabilities")
	}
	return d, nil
}

// barAddr decodes BAR i from configuration space.
func (d *PCIDriver) barAddr(i int) uint64 {
	reg := uint32(0x10 + 4*i)
	lo := d.CfgRead(reg, 4)
	a := uint64(lo &^ 0xF)
	if lo&0x6 == 0x4 {
		a |= uint64(d.CfgRead(reg+4, 4)) << 32
	}
	return a
}

// CfgRead reads n (1, 2, 4) bytes of configuration space at reg.
func (d *PCIDriver) CfgRead(reg uint32, n int) uint32 {
	d.out32(0, 1<<31|d.slot<<11|reg&0xFC)
	b := make([]byte, n)
	d.io.Read(4+uint64(reg&3), b)
	return uint32(le(b))
}

// CfgWrite writes n bytes of configuration space at reg.
func (d *PCIDriver) CfgWrite(reg uint32, n int, v uint32) {
	d.out32(0, 1<<31|d.slot<<11|reg&0xFC)
	b := make([]byte, n)
	putLE(b, uint64(v))
	d.io.Write(4+uint64(reg&3), b)
}

func (d *PCIDriver) out32(off uint64, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	d.io.Write(off, b[:])
}

// Read reads n bytes of MMIO at guest address addr.
func (d *PCIDriver) Read(addr uint64, n int) uint64 {
	b := make([]byte, n)
	d.mmio.Read(addr-d.windowBase, b)
	return le(b)
}

// Write writes n bytes of MMIO at guest address addr.
func (d *PCIDriver) Write(addr uint64, n int, v uint64) {
	b := make([]byte, n)
	putLE(b, v)
	d.mmio.Write(addr-d.windowBase, b)
}

// CommonRead and CommonWrite access the common configuration at its
// byte offset (virtio 1.2 §4.1.4.3).
func (d *PCIDriver) CommonRead(off uint64, n int) uint64 { return d.Read(d.Common+off, n) }

// CommonWrite writes a common configuration field.
func (d *PCIDriver) CommonWrite(off uint64, n int, v uint64) { d.Write(d.Common+off, n, v) }

// Status reads device_status.
func (d *PCIDriver) Status() uint8 { return uint8(d.CommonRead(virtio.CommonDeviceStatus, 1)) }

// SetStatus writes device_status.
func (d *PCIDriver) SetStatus(s uint8) { d.CommonWrite(virtio.CommonDeviceStatus, 1, uint64(s)) }

// ReadISR reads (and so clears) the ISR status.
func (d *PCIDriver) ReadISR() uint8 { return uint8(d.Read(d.ISR, 1)) }

// DeviceFeatures reads all 64 offered feature bits.
func (d *PCIDriver) DeviceFeatures() uint64 {
	d.CommonWrite(virtio.CommonDeviceFeatureSelect, 4, 0)
	lo := d.CommonRead(virtio.CommonDeviceFeature, 4)
	d.CommonWrite(virtio.CommonDeviceFeatureSelect, 4, 1)
	hi := d.CommonRead(virtio.CommonDeviceFeature, 4)
	return hi<<32 | lo
}

// WriteDriverFeatures writes all 64 driver feature bits.
func (d *PCIDriver) WriteDriverFeatures(f uint64) {
	d.CommonWrite(virtio.CommonDriverFeatureSelect, 4, 0)
	d.CommonWrite(virtio.CommonDriverFeature, 4, f&0xFFFFFFFF)
	d.CommonWrite(virtio.CommonDriverFeatureSelect, 4, 1)
	d.CommonWrite(virtio.CommonDriverFeature, 4, f>>32)
}

// Reset writes 0 to device_status and waits for it to read 0 (§4.1.4.3.2).
func (d *PCIDriver) Reset() error {
	d.SetStatus(0)
	for i := 0; i < 1000; i++ {
		if d.Status() == 0 {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("virtiotest: device did not reset")
}

// EnableMSIX programs vectors 0..n-1 (address MSIAddr, data = vector),
// unmasks them and enables MSI-X (PCI 3.0 §6.8.2).
func (d *PCIDriver) EnableMSIX(n int) { d.EnableMSIXData(n, 0) }

// EnableMSIXData is EnableMSIX with data base+v for vector v, so that
// several devices sending to one MSIController can be told apart.
func (d *PCIDriver) EnableMSIXData(n int, base uint32) {
	for v := 0; v < n; v++ {
		e := d.MSIXTable + uint64(16*v)
		d.Write(e, 4, MSIAddr)
		d.Write(e+4, 4, 0)
		d.Write(e+8, 4, uint64(base)+uint64(v))
		d.Write(e+12, 4, 0)
	}
	d.CfgWrite(d.MSIXCap+2, 2, 0x8000)
}

// ErrFeaturesRefused is Init's error when FEATURES_OK does not stick.
var ErrFeaturesRefused = errors.New("virtiotest: device refused the features (FEATURES_OK clear)")

// InitOptions says how Init sets the device up.
type InitOptions struct {
	// Features are written as the driver features, unchecked.
	Features uint64
	// Queues[i], if not nil, is set up as queue i.
	Queues []*SplitQueue
	// MSIX enables MSI-X with vector 0 for configuration changes and
	// vector 1+i for queue i. Without it the device uses INTx.
	MSIX bool
	// MSIXData is added to the message data of every vector (vector v
	// sends MSIXData+v), to tell devices apart.
	MSIXData uint32
	// SkipDriverOK stops before setting DRIVER_OK.
	SkipDriverOK bool
}

// Init performs the driver side of device initialization (virtio 1.2
// §3.1.1) through the registers: reset, ACKNOWLEDGE, DRIVER, features,
// FEATURES_OK (checked), MSI-X and queue setup, DRIVER_OK.
func (d *PCIDriver) Init(o InitOptions) error {
	if err := d.Reset(); err != nil {
		return err
	}
	s := uint8(virtio.StatusAcknowledge)
	d.SetStatus(s)
	s |= virtio.StatusDriver
	d.SetStatus(s)
	d.DeviceFeatures()
	d.WriteDriverFeatures(o.Features)
	s |= virtio.StatusFeaturesOK
	d.SetStatus(s)
	if d.Status()&virtio.StatusFeaturesOK == 0 {
		return ErrFeaturesRefused
	}
	nq := int(d.CommonRead(virtio.CommonNumQueues, 2))
	if o.MSIX {
		d.EnableMSIXData(1+nq, o.MSIXData)
		d.CommonWrite(virtio.CommonConfigMSIXVector, 2, 0)
		if d.CommonRead(virtio.CommonConfigMSIXVector, 2) != 0 {
			return errors.New("virtiotest: config vector not accepted")
		}
	}
	for i, q := range o.Queues {
		if q == nil {
			continue
		}
		if i >= nq {
			return fmt.Errorf("virtiotest: device has %d queues", nq)
		}
		d.CommonWrite(virtio.CommonQueueSelect, 2, uint64(i))
		if max := d.CommonRead(virtio.CommonQueueSize, 2); uint64(q.Size) > max {
			return fmt.Errorf("virtiotest: queue %d size %d above maximum %d", i, q.Size, max)
		}
		d.CommonWrite(virtio.CommonQueueSize, 2, uint64(q.Size))
		if o.MSIX {
			d.CommonWrite(virtio.CommonQueueMSIXVector, 2, uint64(1+i))
			if d.CommonRead(virtio.CommonQueueMSIXVector, 2) != uint64(1+i) {
				return fmt.Errorf("virtiotest: queue %d vector not accepted", i)
			}
		}
		// 32-bit halves, as Linux's vp_iowrite64_twopart does.
		for _, f := range []struct {
			off  uint64
			addr uint64
		}{{virtio.CommonQueueDesc, uint64(q.Desc)}, {virtio.CommonQueueDriver, uint64(q.Avail)}, {virtio.CommonQueueDevice, uint64(q.Used)}} {
			d.CommonWrite(f.off, 4, f.addr&0xFFFFFFFF)
			d.CommonWrite(f.off+4, 4, f.addr>>32)
		}
		d.notifyOff[i] = uint16(d.CommonRead(virtio.CommonQueueNotifyOff, 2))
		d.CommonWrite(virtio.CommonQueueEnable, 2, 1)
		if d.CommonRead(virtio.CommonQueueEnable, 2) != 1 {
			return fmt.Errorf("virtiotest: queue %d not enabled", i)
		}
	}
	if !o.SkipDriverOK {
		s |= virtio.StatusDriverOK
		d.SetStatus(s)
	}
	return nil
}

// Kick notifies queue i as Linux's vp_notify does: a 16-bit write of the
// queue index at notify + queue_notify_off * notify_off_multiplier.
func (d *PCIDriver) Kick(i int) {
	d.Write(d.Notify+uint64(d.notifyOff[i])*uint64(d.NotifyMult), 2, uint64(i))
}

func le(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func putLE(b []byte, v uint64) {
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
}
