package kvm

import "testing"

// The expected values are the macros of <linux/kvm.h> as compiled by gcc on
// x86-64 (printf("%#lx", KVM_...)), not values computed by this package.
func TestIoctlNumbers(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"KVM_GET_API_VERSION", ioctlGetAPIVersion, 0xae00},
		{"KVM_CREATE_VM", ioctlCreateVM, 0xae01},
		{"KVM_CHECK_EXTENSION", ioctlCheckExtension, 0xae03},
		{"KVM_GET_VCPU_MMAP_SIZE", ioctlGetVCPUMmapSize, 0xae04},
		{"KVM_GET_SUPPORTED_CPUID", ioctlGetSupportedCPUID, 0xc008ae05},
		{"KVM_CREATE_VCPU", ioctlCreateVCPU, 0xae41},
		{"KVM_SET_USER_MEMORY_REGION", ioctlSetUserMemRegion, 0x4020ae46},
		{"KVM_SET_TSS_ADDR", ioctlSetTSSAddr, 0xae47},
		{"KVM_SET_IDENTITY_MAP_ADDR", ioctlSetIdentityMapAddr, 0x4008ae48},
		{"KVM_CREATE_IRQCHIP", ioctlCreateIRQChip, 0xae60},
		{"KVM_IRQ_LINE", ioctlIRQLine, 0x4008ae61},
		{"KVM_CREATE_PIT2", ioctlCreatePIT2, 0x4040ae77},
		{"KVM_IOEVENTFD", ioctlIOEventFD, 0x4040ae79},
		{"KVM_SIGNAL_MSI", ioctlSignalMSI, 0x4020aea5},
		{"KVM_REINJECT_CONTROL", ioctlReinjectControl, 0xae71},
		{"KVM_REGISTER_COALESCED_MMIO", ioctlRegisterCoalescedMMIO, 0x4010ae67},
		{"KVM_UNREGISTER_COALESCED_MMIO", ioctlUnregisterCoalescedMMIO, 0x4010ae68},
		{"KVM_RUN", ioctlRun, 0xae80},
		{"KVM_GET_REGS", ioctlGetRegs, 0x8090ae81},
		{"KVM_SET_REGS", ioctlSetRegs, 0x4090ae82},
		{"KVM_GET_SREGS", ioctlGetSregs, 0x8138ae83},
		{"KVM_SET_SREGS", ioctlSetSregs, 0x4138ae84},
		{"KVM_TRANSLATE", ioctlTranslate, 0xc018ae85},
		{"KVM_GET_FPU", ioctlGetFPU, 0x81a0ae8c},
		{"KVM_SET_FPU", ioctlSetFPU, 0x41a0ae8d},
		{"KVM_SET_CPUID2", ioctlSetCPUID2, 0x4008ae90},
		{"KVM_GET_MP_STATE", ioctlGetMPState, 0x8004ae98},
		{"KVM_SET_MP_STATE", ioctlSetMPState, 0x4004ae99},
		{"KVM_GET_VCPU_EVENTS", ioctlGetVCPUEvents, 0x8040ae9f},
		{"KVM_SET_VCPU_EVENTS", ioctlSetVCPUEvents, 0x4040aea0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

func TestCapNumbers(t *testing.T) {
	// <linux/kvm.h> values.
	for c, want := range map[Cap]uintptr{
		CapIRQChip: 0, CapHLT: 1, CapUserMemory: 3, CapSetTSSAddr: 4, CapExtCPUID: 7, CapNrVCPUs: 9,
		CapNrMemslots: 10, CapIRQRouting: 0x19, CapIRQFD: 0x20, CapPIT2: 0x21, CapIOEventFD: 0x24,
		CapSetIdentityMap: 0x25, CapInternalErrData: 0x28, CapVCPUEvents: 0x29, CapMaxVCPUs: 0x42,
		CapSignalMSI: 0x4d, CapImmediateExit: 0x88, CapCoalescedMMIO: 15, CapCoalescedPIO: 162,
	} {
		if uintptr(c) != want {
			t.Errorf("%v = %#x, want %#x", c, uintptr(c), want)
		}
		if c.String() == "KVM_CAP_?" {
			t.Errorf("capability %d has no name", c)
		}
	}
}
