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
	if seen != len(want) {
		t.Errorf("the sandbox lists %d of the %d KVM ioctls made after set-up", seen, len(want))
	}
}
