package kvm

import (
	"testing"
	"unsafe"
)

// Sizes and offsets from <linux/kvm.h> on x86-64 (sizeof/offsetof compiled by gcc).
func TestStructLayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_regs", unsafe.Sizeof(Regs{}), 144},
		{"kvm_segment", unsafe.Sizeof(Segment{}), 24},
		{"kvm_dtable", unsafe.Sizeof(DTable{}), 16},
		{"kvm_sregs", unsafe.Sizeof(Sregs{}), 312},
		{"kvm_cpuid_entry2", unsafe.Sizeof(CPUIDEntry{}), 40},
		{"kvm_vcpu_events", unsafe.Sizeof(VCPUEvents{}), 64},
		{"kvm_vcpu_events.flags", unsafe.Offsetof(VCPUEvents{}.Flags), 0x14},
		{"kvm_vcpu_events.exception_payload", unsafe.Offsetof(VCPUEvents{}.ExceptionPayload), 0x38},
		{"kvm_fpu", unsafe.Sizeof(FPU{}), 416},
		{"kvm_translation", unsafe.Sizeof(Translation{}), 24},
		{"kvm_userspace_memory_region", unsafe.Sizeof(userspaceMemoryRegion{}), 32},
		{"kvm_irq_level", unsafe.Sizeof(irqLevel{}), 8},
		{"kvm_pit_config", unsafe.Sizeof(pitConfig{}), 64},
		{"kvm_ioeventfd", unsafe.Sizeof(ioeventfd{}), 64},
		{"kvm_msi", unsafe.Sizeof(msi{}), 32},
		{"kvm_reinject_control", unsafe.Sizeof(reinjectControl{}), 32},
		{"kvm_coalesced_mmio_zone", unsafe.Sizeof(coalescedZone{}), 16},
		{"kvm_cpuid2.entries", unsafe.Offsetof(cpuid2{}.Entries), 8},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.name, c.got, c.want)
		}
	}
}
