package machine

import (
	"fmt"

	"github.com/govmm/govmm/memory"
)

// codeAtRIP returns the 16 bytes at the VCPU's RIP and the decoding mode
// (16, 32 or 64) of its code segment. The linear address is translated
// through the guest's own page tables (KVM_TRANSLATE), page by page.
func (v *vcpu) codeAtRIP() ([]byte, int, error) {
	regs, err := v.cpu.Regs()
	if err != nil {
		return nil, 0, err
	}
	sregs, err := v.cpu.Sregs()
	if err != nil {
		return nil, 0, err
	}
	mode := 16
	switch {
	case sregs.CS.L == 1 && sregs.EFER&eferLMA != 0:
		mode = 64
	case sregs.CS.DB == 1:
		mode = 32
	}
	linear := regs.RIP
	if mode != 64 {
		linear = (sregs.CS.Base + regs.RIP) & 0xffffffff
	}
	code := make([]byte, 16)
	for done := 0; done < len(code); {
		la := linear + uint64(done)
		t, err := v.cpu.Translate(la)
		if err != nil {
			return nil, 0, err
		}
		if t.Valid == 0 {
			return nil, 0, fmt.Errorf("RIP %#x: linear %#x is not mapped", regs.RIP, la)
		}
		n := min(len(code)-done, int(0x1000-la&0xfff))
		if err := v.m.mem.Read(memory.GuestAddress(t.PhysicalAddress), code[done:done+n]); err != nil {
			return nil, 0, err
		}
		done += n
	}
	return code, mode, nil
}
