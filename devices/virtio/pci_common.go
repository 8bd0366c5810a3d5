package virtio

import "encoding/binary"

// struct virtio_pci_common_cfg (virtio 1.2 §4.1.4.3), byte offsets.
const (
	CommonDeviceFeatureSelect = 0x00 // le32 RW
	CommonDeviceFeature       = 0x04 // le32 RO
	CommonDriverFeatureSelect = 0x08 // le32 RW
	CommonDriverFeature       = 0x0C // le32 RW
	CommonConfigMSIXVector    = 0x10 // le16 RW
	CommonNumQueues           = 0x12 // le16 RO
	CommonDeviceStatus        = 0x14 // u8 RW
	CommonConfigGeneration    = 0x15 // u8 RO
	CommonQueueSelect         = 0x16 // le16 RW
	CommonQueueSize           = 0x18 // le16 RW
	CommonQueueMSIXVector     = 0x1A // le16 RW
	CommonQueueEnable         = 0x1C // le16 RW
	CommonQueueNotifyOff      = 0x1E // le16 RO
	CommonQueueDesc           = 0x20 // le64 RW
	CommonQueueDriver         = 0x28 // le64 RW
	CommonQueueDevice         = 0x30 // le64 RW
	CommonQueueNotifyData     = 0x38 // le16 RO
	CommonQueueReset          = 0x3A // le16 RW (VIRTIO_F_RING_RESET, not offered)
	commonCfgLen              = 0x3C
)

// commonField is one field of the common configuration.
type commonField struct{ off, len uint64 }

// writableCommon lists the fields a driver write acts on, in offset order.
var writableCommon = []commonField{
	{CommonDeviceFeatureSelect, 4},
	{CommonDriverFeatureSelect, 4},
	{CommonDriverFeature, 4},
	{CommonConfigMSIXVector, 2},
	{CommonDeviceStatus, 1},
	{CommonQueueSelect, 2},
	{CommonQueueSize, 2},
	{CommonQueueMSIXVector, 2},
	{CommonQueueEnable, 2},
	{CommonQueueDesc, 8},
	{CommonQueueDriver, 8},
	{CommonQueueDevice, 8},
}

// commonSnapshotLocked renders the common configuration as the driver
// reads it. With mu held.
func (t *PCI) commonSnapshotLocked() [commonCfgLen]byte {
	var b [commonCfgLen]byte
	le := binary.LittleEndian
	le.PutUint32(b[CommonDeviceFeatureSelect:], t.deviceFeatureSel)
	var df uint32
	switch t.deviceFeatureSel {
	case 0:
		df = uint32(t.offered)
	case 1:
		df = uint32(t.offered >> 32)
	}
	le.PutUint32(b[CommonDeviceFeature:], df)
	le.PutUint32(b[CommonDriverFeatureSelect:], t.driverFeatureSel)
	var drf uint32
	switch t.driverFeatureSel {
	case 0:
		drf = uint32(t.driverFeatures)
	case 1:
		drf = uint32(t.driverFeatures >> 32)
	}
	le.PutUint32(b[CommonDriverFeature:], drf)
	le.PutUint16(b[CommonConfigMSIXVector:], uint16(t.configVector.Load()))
	le.PutUint16(b[CommonNumQueues:], uint16(t.nq))
	b[CommonDeviceStatus] = t.statusLocked()
	b[CommonConfigGeneration] = 0 // the device configuration never changes
	le.PutUint16(b[CommonQueueSelect:], t.queueSel)
	if q := int(t.queueSel); q < t.nq {
		r := &t.queues[q]
		le.PutUint16(b[CommonQueueSize:], r.size)
		le.PutUint16(b[CommonQueueMSIXVector:], uint16(t.vectors[q].Load()))
		if r.enabled {
			le.PutUint16(b[CommonQueueEnable:], 1)
		}
		le.PutUint16(b[CommonQueueNotifyOff:], uint16(q))
		le.PutUint64(b[CommonQueueDesc:], r.desc)
		le.PutUint64(b[CommonQueueDriver:], r.driver)
		le.PutUint64(b[CommonQueueDevice:], r.device)
		le.PutUint16(b[CommonQueueNotifyData:], uint16(q))
	}
	// A selector past the last queue reads queue_size 0: "not available"
	// (§4.1.4.3.1).
	return b
}

// readCommon serves a driver read of the common configuration.
func (t *PCI) readCommon(off uint64, data []byte) {
	t.mu.Lock()
	b := t.commonSnapshotLocked()
	t.mu.Unlock()
	if off < commonCfgLen {
		copy(data, b[off:])
	}
}

// writeCommon serves a driver write: the bytes are laid over the current
// values, then every writable field the write touched is applied, in
// offset order. Writes to read-only fields are ignored. A 64-bit field may
// be written whole or as two 32-bit halves.
func (t *PCI) writeCommon(off uint64, data []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	b := t.commonSnapshotLocked()
	end := min(off+uint64(len(data)), commonCfgLen)
	copy(b[off:end], data)
	le := binary.LittleEndian
	for _, f := range writableCommon {
		if f.off >= end || f.off+f.len <= off {
			continue
		}
		var v uint64
		switch f.len {
		case 1:
			v = uint64(b[f.off])
		case 2:
			v = uint64(le.Uint16(b[f.off:]))
		case 4:
			v = uint64(le.Uint32(b[f.off:]))
		case 8:
			v = le.Uint64(b[f.off:])
		}
		t.applyCommonLocked(f.off, v)
	}
}

// applyCommonLocked acts on a write of v to the field at off. With mu held.
func (t *PCI) applyCommonLocked(off, v uint64) {
	q := int(t.queueSel)
	var r *queueRegs
	if q < t.nq {
		r = &t.queues[q]
	}
	// Queue configuration is frozen once the queue is enabled or the
	// device is live (§4.1.4.3.2; VIRTIO_F_RING_RESET is not offered).
	queueWritable := r != nil && !r.enabled && t.status&StatusDriverOK == 0
	switch off {
	case CommonDeviceFeatureSelect:
		t.deviceFeatureSel = uint32(v)
	case CommonDriverFeatureSelect:
		t.driverFeatureSel = uint32(v)
	case CommonDriverFeature:
		if t.status&StatusFeaturesOK != 0 {
			return // features are fixed after FEATURES_OK (§3.1.1)
		}
		switch t.driverFeatureSel {
		case 0:
			t.driverFeatures = t.driverFeatures&^0xFFFFFFFF | v
		case 1:
			t.driverFeatures = t.driverFeatures&0xFFFFFFFF | v<<32
		}
	case CommonConfigMSIXVector:
		t.configVector.Store(uint32(t.checkVector(uint16(v))))
	case CommonDeviceStatus:
		t.writeStatusLocked(uint8(v))
	case CommonQueueSelect:
		t.queueSel = uint16(v)
	case CommonQueueSize:
		if queueWritable {
			r.size = uint16(v)
		}
	case CommonQueueMSIXVector:
		if r != nil {
			t.vectors[q].Store(uint32(t.checkVector(uint16(v))))
		}
	case CommonQueueEnable:
		if queueWritable && v == 1 {
			t.enableQueueLocked(q)
		}
	case CommonQueueDesc:
		if queueWritable {
			r.desc = v
		}
	case CommonQueueDriver:
		if queueWritable {
			r.driver = v
		}
	case CommonQueueDevice:
		if queueWritable {
			r.device = v
		}
	}
}

// checkVector maps a vector the MSI-X table does not have to NO_VECTOR, so
// the driver reading it back learns the mapping failed (§4.1.5.1.2.1).
func (t *PCI) checkVector(v uint16) uint16 {
	if v != NoVector && int(v) >= t.msix.Vectors() {
		return NoVector
	}
	return v
}
