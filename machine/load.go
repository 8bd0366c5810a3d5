package machine

import (
	"fmt"

	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/memory"
)

// load puts the guest into memory and sets the boot VCPU's registers.
func (m *Machine) load() error {
	switch {
	case m.cfg.Kernel != "":
		return m.loadKernel()
	case m.cfg.Raw != "" || m.cfg.RawImage != nil:
		return m.loadRaw()
	}
	return fmt.Errorf("nothing to run: give -kernel or -raw")
}

// loadRaw loads a flat binary and starts the boot VCPU on its first byte in
// the requested mode. The stack starts at rawStackTop.
func (m *Machine) loadRaw() error {
	img := m.cfg.RawImage
	name := "raw image"
	if m.cfg.Raw != "" {
		b, err := readFile("-raw", m.cfg.Raw)
		if err != nil {
			return err
		}
		img, name = b, "-raw "+m.cfg.Raw
	}
	addr := m.cfg.RawAddr
	if addr == 0 {
		addr = rawDefaultAddr
	}
	if len(img) == 0 {
		return fmt.Errorf("%s: empty image", name)
	}
	// 0x500 up to the end of the page tables holds govmm's boot tables
	// and the raw stack (layout.go).
	if end := uint64(pdAddr + pdCount*0x1000); addr < end && addr+uint64(len(img)) > gdtAddr {
		return fmt.Errorf("-raw-addr %#x: the image overlaps govmm's boot tables at %#x-%#x", addr, gdtAddr, end)
	}
	if m.cfg.RawMode == RawReal && addr+uint64(len(img)) > 0x100000 {
		return fmt.Errorf("%s: a real-mode image must end below 1 MiB (loaded at %#x, %d bytes)", name, addr, len(img))
	}
	if err := m.mem.Write(memory.GuestAddress(addr), img); err != nil {
		return fmt.Errorf("%s (%d bytes at %#x) does not fit in guest memory (-m %d MiB)", name, len(img), addr, m.cfg.MemSize>>20)
	}
	cpu := m.vcpus[0].cpu
	sregs, err := cpu.Sregs()
	if err != nil {
		return err
	}
	regs := kvm.Regs{RFLAGS: rflagsReserved}
	switch m.cfg.RawMode {
	case RawReal:
		sregs = realModeSregs(sregs, addr)
		regs.RIP = addr - sregs.CS.Base
		regs.RSP = rawStackTop
	case RawLong, RawUser:
		user := m.cfg.RawMode == RawUser
		if err := writeBootTables(m.mem, user); err != nil {
			return err
		}
		sregs = longModeSregs(sregs, user)
		regs.RIP, regs.RSP = addr, rawStackTop
		if user {
			regs.RFLAGS |= rflagsIOPL3
		}
	}
	if err := cpu.SetSregs(sregs); err != nil {
		return err
	}
	if err := cpu.SetRegs(regs); err != nil {
		return err
	}
	m.logf("raw guest: %d bytes at %#x, %v mode", len(img), addr, m.cfg.RawMode)
	return nil
}
