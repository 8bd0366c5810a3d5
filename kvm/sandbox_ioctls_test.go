package kvm

import (
	"testing"

	"github.com/govmm/govmm/sandbox"
)

// TestKVMIoctlsMatchPackageKVM: the sandbox's allow-list spells the KVM
// ioctl numbers itself; they must be the ones this package issues.
func TestKVMIoctlsMatchPackageKVM(t *testing.T) {
	want := map[string]uintptr{
		"KVM_RUN":                       ioctlRun,
		"KVM_GET_REGS":                  ioctlGetRegs,
		"KVM_SET_REGS":                  ioctlSetRegs,
		"KVM_GET_SREGS":                 ioctlGetSregs,
		"KVM_TRANSLATE":                 ioctlTranslate,
		"KVM_GET_MP_STATE":              ioctlGetMPState,
		"KVM_GET_VCPU_EVENTS":           ioctlGetVCPUEvents,
		"KVM_SET_VCPU_EVENTS":           ioctlSetVCPUEvents,
		"KVM_IRQ_LINE":                  ioctlIRQLine,
		"KVM_SIGNAL_MSI":                ioctlSignalMSI,
		"KVM_IOEVENTFD":                 ioctlIOEventFD,
		"KVM_REGISTER_COALESCED_MMIO":   ioctlRegisterCoalescedMMIO,
		"KVM_UNREGISTER_COALESCED_MMIO": ioctlUnregisterCoalescedMMIO,
	}
	seen := 0
	for _, io := range sandbox.AllowedIoctls {
		n, ok := want[io.Name]
		if !ok {
			continue
		}
		seen++
		if uint64(n) != io.Req {
			t.Errorf("%s: sandbox allows %#x, package kvm issues %#x", io.Name, io.Req, n)
		}
	}
	restart := map[string]uintptr{
		"KVM_GET_API_VERSION": ioctlGetAPIVersion, "KVM_CREATE_VM": ioctlCreateVM,
		"KVM_CHECK_EXTENSION": ioctlCheckExtension, "KVM_GET_VCPU_MMAP_SIZE": ioctlGetVCPUMmapSize,
		"KVM_GET_SUPPORTED_CPUID": ioctlGetSupportedCPUID, "KVM_CREATE_VCPU": ioctlCreateVCPU,
		"KVM_SET_USER_MEMORY_REGION": ioctlSetUserMemRegion, "KVM_SET_TSS_ADDR": ioctlSetTSSAddr,
		"KVM_SET_IDENTITY_MAP_ADDR": ioctlSetIdentityMapAddr, "KVM_CREATE_IRQCHIP": ioctlCreateIRQChip,
		"KVM_REINJECT_CONTROL": ioctlReinjectControl, "KVM_CREATE_PIT2": ioctlCreatePIT2,
		"KVM_SET_SREGS": ioctlSetSregs, "KVM_SET_CPUID2": ioctlSetCPUID2,
	}
	for _, io := range sandbox.RestartIoctls {
		n, ok := restart[io.Name]
		if !ok {
			t.Errorf("restart ioctl %s: not one package kvm issues", io.Name)
		} else if uint64(n) != io.Req {
			t.Errorf("%s: sandbox allows %#x, package kvm issues %#x", io.Name, io.Req, n)
		}
	}
	if seen != len(want) {
		t.Errorf("the sandbox lists %d of the %d KVM ioctls made after set-up", seen, len(want))
	}
}
