package compat

import (
	"fmt"

	"github.com/govmm/govmm/kvm"
)

// cpuidMask is one CPUID feature bit that the emulator cannot run and that
// KVM_SET_CPUID2 hides successfully (verified: the guest then avoids it).
type cpuidMask struct {
	leaf uint32
	reg  byte // 'c' for ECX
	bit  uint
	name string
}

var cpuidMasks = []cpuidMask{
	{1, 'c', 13, "CX16 (lock cmpxchg16b, used by SLUB)"},
	{1, 'c', 23, "POPCNT"},
}

// AdjustCPUID clears the masked feature bits and returns one line per change.
func AdjustCPUID(entries []kvm.CPUIDEntry) []string {
	var changes []string
	for _, m := range cpuidMasks {
		for i := range entries {
			e := &entries[i]
			if e.Function != m.leaf || e.Index != 0 {
				continue
			}
			if e.ECX&(1<<m.bit) != 0 {
				e.ECX &^= 1 << m.bit
				changes = append(changes, fmt.Sprintf("CPUID.%#x:ECX bit %d cleared: %s", m.leaf, m.bit, m.name))
			}
		}
	}
	return changes
}
