package machine

import (
	"fmt"

	"github.com/govmm/govmm/memory"
)

// planRaw lays out a flat binary and starts the boot VCPU on its first byte
// in the requested mode. The stack starts at rawStackTop.
func (p *Plan) planRaw() error {
	img, name := p.cfg.RawImage, "raw image"
	if p.cfg.Raw != "" {
		b, err := readInput("-raw", p.cfg.Raw, p.cfg.MemSize, fmt.Sprintf("guest RAM (-m %d MiB)", p.cfg.MemSize>>20))
		if err != nil {
			return err
		}
		img, name = b, "-raw "+p.cfg.Raw
	}
	addr := p.cfg.RawAddr
	if addr == 0 {
		addr = rawDefaultAddr
	}
	size := uint64(len(img))
	if size == 0 {
		return fmt.Errorf("%s: empty image", name)
	}
	if !p.inRAM(addr, size) {
		return fmt.Errorf("%s (%d bytes at %#x) does not fit in guest memory (-m %d MiB)", name, size, addr, p.cfg.MemSize>>20)
	}
	// 0x500 up to the end of the page tables holds govmm's boot tables
	// and the raw stack (layout.go).
	if end := uint64(pdAddr + pdCount*0x1000); addr < end && addr+size > gdtAddr {
		return fmt.Errorf("-raw-addr %#x: the image overlaps govmm's boot tables at %#x-%#x", addr, gdtAddr, end)
	}
	if p.cfg.RawMode == RawReal && addr+size > legacyHoleEnd {
		return fmt.Errorf("%s: a real-mode image must end below 1 MiB (loaded at %#x, %d bytes)", name, addr, size)
	}
	p.add(addr, img, 0)
	p.entry.mode = map[RawMode]entryMode{RawReal: entryReal, RawLong: entryLong, RawUser: entryUser}[p.cfg.RawMode]
	p.entry.regs.RIP, p.entry.regs.RSP, p.entry.regs.RFLAGS = addr, rawStackTop, rflagsReserved
	if p.cfg.RawMode == RawUser {
		p.entry.regs.RFLAGS |= rflagsIOPL3
	}
	p.loadedf("raw guest: %d bytes at %#x, %v mode", size, addr, p.cfg.RawMode)
	return nil
}

// covers reports whether a planned chunk overlaps [addr, addr+n): a raw
// guest may load its own code over the reset vector.
func (p *Plan) covers(addr, n uint64) bool {
	for _, c := range p.chunks {
		if c.addr < addr+n && addr < c.addr+c.size()+c.zero {
			return true
		}
	}
	return false
}

// resetStub is the real-mode code at the reset vector (unless a raw guest
// loads its own code there):
// it pulses the reset line through the i8042 (command 0xFE, which govmm
// turns into "guest reset"), the way a PC BIOS's warm reboot ends.
var resetStub = []byte{
	0xfa,       // cli
	0xb0, 0xfe, // mov al, 0xfe   ; i8042: pulse output port bit 0 (reset)
	0xe6, 0x64, // out 0x64, al
	0xf4,       // hlt
	0xeb, 0xfd, // jmp $-3        ; back to hlt
}

// load copies the planned guest into memory, adds what depends on the
// built machine (the MP table and ACPI tables of a Linux guest, the boot
// tables) and sets
// the boot VCPU's registers.
func (m *Machine) load(p *Plan) error {
	if m.cfg.Kernel != "" {
		if err := m.writeMPTable(); err != nil {
			return err
		}
	}
	if !p.covers(resetVectorAddr, uint64(len(resetStub))) {
		if err := m.mem.Write(memory.GuestAddress(resetVectorAddr), resetStub); err != nil {
			return fmt.Errorf("reset vector: %w", err)
		}
	}
	if m.cfg.ACPI {
		if err := m.writeACPITables(); err != nil {
			return err
		}
	}
	if err := p.writeChunks(m.mem); err != nil {
		return err
	}
	e := p.entry
	if e.mode != entryReal {
		if err := writeBootTables(m.mem, e.mode == entryUser); err != nil {
			return err
		}
	}
	cpu := m.vcpus[0].cpu
	sregs, err := cpu.Sregs()
	if err != nil {
		return err
	}
	regs := e.regs
	switch e.mode {
	case entryReal:
		sregs = realModeSregs(sregs, regs.RIP)
		regs.RIP -= sregs.CS.Base
	case entryLong, entryUser:
		sregs = longModeSregs(sregs, e.mode == entryUser)
	case entryPVH32:
		sregs = protectedMode32Sregs(sregs)
	}
	if err := cpu.SetSregs(sregs); err != nil {
		return err
	}
	if err := cpu.SetRegs(regs); err != nil {
		return err
	}
	for _, l := range p.loaded {
		m.logf("%s", l)
	}
	return nil
}
