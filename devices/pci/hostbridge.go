package pci

// Host bridge identity. Linux's pci_sanity_check accepts bus 0 when it finds
// a function of class "host bridge" (or an Intel/Compaq vendor ID); the IDs
// are QEMU's generic PCIe host bridge, which no Linux quirk matches.
const (
	HostBridgeVendorID = 0x1b36
	HostBridgeDeviceID = 0x0008
	// ClassHostBridge is base class 0x06 (bridge), sub-class 0x00 (host).
	ClassHostBridge = 0x060000
)

// HostBridge is the function at 00:00.0: identification only.
type HostBridge struct{ cfg *Config }

// NewHostBridge returns a host bridge.
func NewHostBridge() *HostBridge {
	return &HostBridge{cfg: NewConfig(Header{
		VendorID: HostBridgeVendorID,
		DeviceID: HostBridgeDeviceID,
		Class:    ClassHostBridge,
	})}
}

// PCIConfig implements Device.
func (h *HostBridge) PCIConfig() *Config { return h.cfg }
