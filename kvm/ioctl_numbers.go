package kvm

// Ioctl request encoding, as in <asm-generic/ioctl.h>: direction in bits
// 30-31, argument size in bits 16-29, type in bits 8-15, number in bits 0-7.
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2

	kvmio = 0xAE // the KVM ioctl type byte
)

func ioc(dir, nr, size uintptr) uintptr { return dir<<30 | size<<16 | kvmio<<8 | nr }
func io(nr uintptr) uintptr             { return ioc(iocNone, nr, 0) }
func iow(nr, size uintptr) uintptr      { return ioc(iocWrite, nr, size) }
func ior(nr, size uintptr) uintptr      { return ioc(iocRead, nr, size) }
func iowr(nr, size uintptr) uintptr     { return ioc(iocRead|iocWrite, nr, size) }

// Ioctl numbers used by govmm (api.rst, section 4). The sizes are those of the
// C structures; kvm_structs_test.go checks the Go mirrors have the same size.
var (
	// System ioctls.
	ioctlGetAPIVersion      = io(0x00)
	ioctlCreateVM           = io(0x01)
	ioctlCheckExtension     = io(0x03)
	ioctlGetVCPUMmapSize    = io(0x04)
	ioctlGetSupportedCPUID  = iowr(0x05, 8) // struct kvm_cpuid2 header
	ioctlCreateVCPU         = io(0x41)
	ioctlSetUserMemRegion   = iow(0x46, 32)
	ioctlSetTSSAddr         = io(0x47)
	ioctlSetIdentityMapAddr = iow(0x48, 8)
	ioctlCreateIRQChip      = io(0x60)
	ioctlIRQLine            = iow(0x61, 8)
	ioctlCreatePIT2         = iow(0x77, 64)
	ioctlIOEventFD          = iow(0x79, 64)
	ioctlSignalMSI          = iow(0xa5, 32)
	ioctlReinjectControl    = io(0x71) // takes a pointer despite _IO (kvm.h)
	// struct kvm_coalesced_mmio_zone (16 bytes), MMIO or, with its pio
	// field set, port I/O (KVM_CAP_COALESCED_PIO).
	ioctlRegisterCoalescedMMIO   = iow(0x67, 16)
	ioctlUnregisterCoalescedMMIO = iow(0x68, 16)

	// VCPU ioctls.
	ioctlRun           = io(0x80)
	ioctlGetRegs       = ior(0x81, 144)
	ioctlSetRegs       = iow(0x82, 144)
	ioctlGetSregs      = ior(0x83, 312)
	ioctlSetSregs      = iow(0x84, 312)
	ioctlTranslate     = iowr(0x85, 24)
	ioctlGetFPU        = ior(0x8c, 416)
	ioctlSetFPU        = iow(0x8d, 416)
	ioctlSetCPUID2     = iow(0x90, 8)
	ioctlGetMPState    = ior(0x98, 4)
	ioctlSetMPState    = iow(0x99, 4)
	ioctlGetVCPUEvents = ior(0x9f, 64)
	ioctlSetVCPUEvents = iow(0xa0, 64)
)

// Cap is a KVM capability number for CheckExtension (api.rst section 8).
type Cap uintptr

// Capabilities govmm checks.
const (
	CapIRQChip         Cap = 0
	CapHLT             Cap = 1
	CapUserMemory      Cap = 3
	CapSetTSSAddr      Cap = 4
	CapExtCPUID        Cap = 7
	CapNrVCPUs         Cap = 9
	CapNrMemslots      Cap = 10
	CapIRQRouting      Cap = 25
	CapIRQFD           Cap = 32
	CapPIT2            Cap = 33
	CapIOEventFD       Cap = 36
	CapSetIdentityMap  Cap = 37
	CapInternalErrData Cap = 40
	CapVCPUEvents      Cap = 41
	CapMaxVCPUs        Cap = 66
	CapSignalMSI       Cap = 77
	CapImmediateExit   Cap = 136
)

// Capabilities of coalesced writes (api.rst 4.116, KVM_REGISTER_COALESCED_MMIO).
const (
	// CapCoalescedMMIO answers with the page offset, in a VCPU's mmap, of
	// the VM's coalesced-write ring (KVM_COALESCED_MMIO_PAGE_OFFSET), or 0.
	CapCoalescedMMIO Cap = 15
	// CapCoalescedPIO: a coalesced zone may be a port range (Linux 4.20).
	CapCoalescedPIO Cap = 162
)

// String names the capability as <linux/kvm.h> does.
func (c Cap) String() string {
	if n, ok := capNames[c]; ok {
		return n
	}
	return "KVM_CAP_?"
}

var capNames = map[Cap]string{
	CapIRQChip: "KVM_CAP_IRQCHIP", CapHLT: "KVM_CAP_HLT", CapUserMemory: "KVM_CAP_USER_MEMORY",
	CapSetTSSAddr: "KVM_CAP_SET_TSS_ADDR", CapExtCPUID: "KVM_CAP_EXT_CPUID", CapNrVCPUs: "KVM_CAP_NR_VCPUS",
	CapNrMemslots: "KVM_CAP_NR_MEMSLOTS", CapIRQRouting: "KVM_CAP_IRQ_ROUTING", CapIRQFD: "KVM_CAP_IRQFD",
	CapPIT2: "KVM_CAP_PIT2", CapIOEventFD: "KVM_CAP_IOEVENTFD", CapSetIdentityMap: "KVM_CAP_SET_IDENTITY_MAP_ADDR",
	CapInternalErrData: "KVM_CAP_INTERNAL_ERROR_DATA", CapVCPUEvents: "KVM_CAP_VCPU_EVENTS",
	CapMaxVCPUs: "KVM_CAP_MAX_VCPUS", CapSignalMSI: "KVM_CAP_SIGNAL_MSI", CapImmediateExit: "KVM_CAP_IMMEDIATE_EXIT",
	CapCoalescedMMIO: "KVM_CAP_COALESCED_MMIO", CapCoalescedPIO: "KVM_CAP_COALESCED_PIO",
}
