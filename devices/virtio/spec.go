package virtio

// Device status bits (virtio 1.2 §2.1).
const (
	StatusAcknowledge = 1
	StatusDriver      = 2
	StatusDriverOK    = 4
	StatusFeaturesOK  = 8
	StatusNeedsReset  = 0x40
	StatusFailed      = 0x80
)

// Reserved feature bits (virtio 1.2 §6).
const (
	FeatureIndirectDesc = 1 << 28 // VIRTIO_F_INDIRECT_DESC
	FeatureEventIdx     = 1 << 29 // VIRTIO_F_EVENT_IDX
	FeatureVersion1     = 1 << 32 // VIRTIO_F_VERSION_1
)

// Device IDs (virtio 1.2 §5).
const (
	DeviceIDNet     = 1
	DeviceIDBlock   = 2
	DeviceIDConsole = 3
	DeviceIDEntropy = 4
)

// Descriptor flags (virtio 1.2 §2.7.5).
const (
	DescFNext     = 1
	DescFWrite    = 2
	DescFIndirect = 4
)

// Ring flags (virtio 1.2 §2.7.6, §2.7.8).
const (
	// AvailFNoInterrupt is the driver's hint that it wants no used-buffer
	// notifications (only without VIRTIO_F_EVENT_IDX).
	AvailFNoInterrupt = 1
	// UsedFNoNotify is the device's hint that it wants no available-buffer
	// notifications; this device never sets it.
	UsedFNoNotify = 1
)

// MaxQueueSize is the largest split virtqueue (virtio 1.2 §2.7).
const MaxQueueSize = 32768

// NoVector is the MSI-X vector value meaning "no interrupt" (virtio 1.2
// §4.1.5.1.2).
const NoVector = 0xFFFF

// Split-ring layout sizes (virtio 1.2 §2.7, table "Virtqueue Part
// Alignment and Size").
const (
	descSize      = 16
	usedElemSize  = 8
	ringHeaderLen = 4 // flags and idx
)

// descTableSize, availRingSize and usedRingSize are the byte sizes of the
// three parts of a queue of n entries, event fields included.
func descTableSize(n uint16) uint64 { return descSize * uint64(n) }
func availRingSize(n uint16) uint64 { return ringHeaderLen + 2*uint64(n) + 2 }
func usedRingSize(n uint16) uint64  { return ringHeaderLen + usedElemSize*uint64(n) + 2 }
