package machine

import "github.com/govmm/govmm/kvm"

// maxCPUs is the most VCPUs govmm creates (-smp).
const maxCPUs = 64

// cpuidFor returns the CPUID leaves for VCPU id of n, starting from what KVM
// supports (KVM_GET_SUPPORTED_CPUID) and filling in the per-CPU topology
// fields that only the VMM knows (SDM vol. 2A, CPUID).
func cpuidFor(base []kvm.CPUIDEntry, id, n int) []kvm.CPUIDEntry {
	out := append([]kvm.CPUIDEntry(nil), base...)
	for i := range out {
		e := &out[i]
		switch e.Function {
		case 1:
			// EBX[31:24] initial APIC ID; EBX[23:16] logical processors
			// per package; EDX[28] HTT when that count is meaningful.
			e.EBX = e.EBX&0x0000ffff | uint32(id)<<24 | uint32(n)<<16
			if n > 1 {
				e.EDX |= 1 << 28
			}
			// ECX[31]: running under a hypervisor.
			e.ECX |= 1 << 31
		case 0xb, 0x1f:
			// Extended topology: EDX is the x2APIC ID of this CPU.
			e.EDX = uint32(id)
		}
	}
	return out
}
