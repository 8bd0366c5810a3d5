package machine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/kvm"
)

// Plan is a Config that has been checked, with its guest parsed and laid
// out: what guest memory starts with and the boot VCPU's entry state.
// Making a Plan opens the guest's files and reads the headers it checks
// (the bzImage setup header, the vmlinux ELF headers and notes), but opens
// no KVM device, creates nothing and keeps no file open, so every flag and
// file error is reported the same way on a host without /dev/kvm.
// NewFromPlan builds the machine from it; New does both steps.
//
// A Plan does not hold the bytes of a -kernel or -initrd that is a regular
// file: it records them as ranges of the file, with the file's size,
// modification time and identity as Plan saw them, and NewFromPlan reads
// the ranges straight into guest memory. So every machine built from a
// Plan (a -reboot restart too) re-reads the files, and NewFromPlan fails,
// with an error naming the flag and the file, if one changed since Plan.
// A -raw file, a kernel or initrd that is not a regular file (a pipe) and
// the in-memory images (Config.RawImage, Config.InitrdImage, not copied)
// are held in memory. A Plan is not changed by NewFromPlan.
type Plan struct {
	cfg Config
	// compat is true when the emulated-ring-0 fix-ups are on.
	compat bool
	// notes are -v lines about decisions the plan made, logged when the
	// machine is built; loaded are logged once the guest is in memory.
	notes, loaded []string

	// chunks are written to guest memory in order.
	chunks []chunk
	// entry is how VCPU 0 starts.
	entry entry
}

// chunk is planned guest memory content at addr: data, or when file is set,
// the n bytes of file at offset off (read at load); then zero bytes of
// zeros.
type chunk struct {
	addr   uint64
	data   []byte
	file   *guestFile
	off, n uint64
	zero   uint64
}

// size is the number of content bytes c writes before its zeros.
func (c chunk) size() uint64 {
	if c.file != nil {
		return c.n
	}
	return uint64(len(c.data))
}

// entryMode is the CPU mode VCPU 0 starts in.
type entryMode int

const (
	entryReal  entryMode = iota // 16-bit real mode, CS:IP at addr
	entryLong                   // 64-bit mode, CPL 0, identity map
	entryUser                   // 64-bit mode, CPL 3, IOPL 3
	entryPVH32                  // 32-bit protected mode, paging off (PVH)
)

// entry is the boot VCPU's start: its mode and general registers. In real
// mode RIP is the linear entry address; CS:IP is derived from it.
type entry struct {
	mode entryMode
	regs kvm.Regs
}

// Validate reports the first problem with c that New would report before it
// touches KVM: flags out of range, files that are missing or unusable, a
// guest that does not fit. It opens the guest's files and reads their
// headers to do so.
func (c Config) Validate() error {
	_, err := c.Plan()
	return err
}

// Plan checks c and lays out its guest without touching KVM (see Plan).
// Errors are one line that names the flag or file and the cause.
func (c Config) Plan() (*Plan, error) {
	if c.CPUs == 0 {
		c.CPUs = 1
	}
	if c.KVMPath == "" {
		c.KVMPath = "/dev/kvm"
	}
	if c.Console == nil {
		c.Console = io.Discard
	}
	c.Disks = slices.Clone(c.Disks)
	c.Shares = slices.Clone(c.Shares)
	c.Nets = slices.Clone(c.Nets)
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := checkDisks(c.Disks); err != nil {
		return nil, err
	}
	if err := checkShares(c.Shares); err != nil {
		return nil, err
	}
	p := &Plan{cfg: c}
	host := compat.DetectHost()
	p.compat = compat.Enabled(c.Compat, host)
	p.notef("host: guest ring 0 %s (%s); compat %v -> %v", map[bool]string{true: "emulated", false: "in hardware"}[host.EmulatedRing0], host.Why, c.Compat, p.compat)
	var err error
	if c.Kernel != "" {
		err = p.planKernel()
	} else {
		err = p.planRaw()
	}
	if err == nil {
		err = p.planACPI()
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Config is the configuration p was made from, with the defaults filled in.
func (p *Plan) Config() Config { return p.cfg }

// check validates the values of c that need no file.
func (c *Config) check() error {
	if c.MemSize < minMemory {
		return fmt.Errorf("-m: %d MiB is too small; govmm needs at least %d MiB", c.MemSize>>20, minMemory>>20)
	}
	if c.CPUs < 1 || c.CPUs > maxCPUs {
		return fmt.Errorf("-smp: %d CPUs; govmm supports 1 to %d", c.CPUs, maxCPUs)
	}
	if c.RawMode < RawReal || c.RawMode > RawUser {
		return fmt.Errorf("-raw-mode: unknown mode %d", int(c.RawMode))
	}
	if c.Compat < compat.Auto || c.Compat > compat.Off {
		return fmt.Errorf("-compat: unknown mode %d", int(c.Compat))
	}
	guests := 0
	for _, set := range []bool{c.Kernel != "", c.Raw != "", c.RawImage != nil} {
		if set {
			guests++
		}
	}
	switch {
	case guests == 0:
		return errors.New("nothing to run: give -kernel or -raw")
	case guests > 1:
		return errors.New("give exactly one of -kernel and -raw")
	case (c.Initrd != "" || c.InitrdImage != nil) && c.Kernel == "":
		return errors.New("-initrd needs -kernel")
	case c.Initrd != "" && c.InitrdImage != nil:
		return errors.New("-initrd: give a file or an in-memory image, not both")
	case c.ACPI && c.Kernel == "":
		return errors.New("-acpi needs -kernel")
	}
	devs := len(c.Disks) + len(c.Shares) + len(c.Nets)
	if c.RNG {
		devs++
	}
	if c.VirtioConsole {
		devs++
	}
	// Slot 0 is the host bridge, slot 1 the pvpanic device.
	if free := pci.NumSlots - 2; devs > free {
		return fmt.Errorf("-disk, -share, -net: %d virtio devices; PCI bus 0 has room for %d", devs, free)
	}
	return nil
}

// checkDisks makes sure every disk is a regular file or a block device that
// can be opened as asked, and that no image is given twice when one of them
// is writable.
func checkDisks(disks []Disk) error {
	infos := make([]os.FileInfo, len(disks))
	for i, d := range disks {
		st, err := os.Stat(d.Path)
		if err != nil {
			return fileError("-disk", d.Path, err)
		}
		if m := st.Mode(); !m.IsRegular() && (m&os.ModeDevice == 0 || m&os.ModeCharDevice != 0) {
			return fmt.Errorf("-disk %s: %s, not a raw image file or a block device", d.Path, fileKind(m))
		}
		mode := uint32(unix.R_OK)
		if !d.ReadOnly {
			mode |= unix.W_OK
		}
		if err := unix.Access(d.Path, mode); err != nil {
			if !d.ReadOnly {
				return fmt.Errorf("-disk %s: %w (add ,ro for a read-only disk)", d.Path, err)
			}
			return fmt.Errorf("-disk %s: %w", d.Path, err)
		}
		for j := range i {
			if os.SameFile(infos[j], st) && (!d.ReadOnly || !disks[j].ReadOnly) {
				return fmt.Errorf("-disk %s: the same image as -disk %s; a writable image may be given once", d.Path, disks[j].Path)
			}
		}
		infos[i] = st
	}
	return nil
}

// checkShares makes sure every share is a directory govmm can serve as
// asked, and that the mount tags are valid and distinct.
func checkShares(shares []Share) error {
	tags := map[string]string{}
	for _, sh := range shares {
		if err := virtio.CheckNinePTag(sh.Tag); err != nil {
			return fmt.Errorf("-share %s: tag=%q: must be 1 to %d bytes, no NUL", sh.Dir, sh.Tag, virtio.NinePMaxTagLen)
		}
		if prev, dup := tags[sh.Tag]; dup {
			return fmt.Errorf("-share %s: tag=%s is already the tag of -share %s", sh.Dir, sh.Tag, prev)
		}
		tags[sh.Tag] = sh.Dir
		st, err := os.Stat(sh.Dir)
		if err != nil {
			return fileError("-share", sh.Dir, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("-share %s: not a directory", sh.Dir)
		}
		mode := uint32(unix.R_OK | unix.X_OK)
		if !sh.ReadOnly {
			mode |= unix.W_OK
		}
		if err := unix.Access(sh.Dir, mode); err != nil {
			if !sh.ReadOnly {
				return fmt.Errorf("-share %s: %w (add ,ro for a read-only share)", sh.Dir, err)
			}
			return fmt.Errorf("-share %s: %w", sh.Dir, err)
		}
	}
	return nil
}

// fileKind names a file type for errors.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "is a directory"
	case m&os.ModeCharDevice != 0:
		return "is a character device"
	case m&os.ModeNamedPipe != 0:
		return "is a named pipe"
	case m&os.ModeSocket != 0:
		return "is a socket"
	}
	return "is a special file"
}

// fileError names flag and path and keeps only the cause of a *PathError.
func fileError(flag, path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", flag, path, err)
}

// lowRAMTop is the end of RAM below 4 GiB.
func (p *Plan) lowRAMTop() uint64 { return min(p.cfg.MemSize, lowRAMLimit) }

// inRAM reports whether [addr, addr+size) lies in guest RAM: low RAM from 0,
// the rest from highRAMBase (layout.go).
func (p *Plan) inRAM(addr, size uint64) bool {
	end := addr + size
	if end < addr {
		return false
	}
	low := p.lowRAMTop()
	if end <= low {
		return true
	}
	return addr >= highRAMBase && end-highRAMBase <= p.cfg.MemSize-low
}

// add plans data at addr followed by zero bytes of zeros.
func (p *Plan) add(addr uint64, data []byte, zero uint64) {
	p.chunks = append(p.chunks, chunk{addr: addr, data: data, zero: zero})
}

// addInput plans in's bytes [off, off+n) at addr followed by zero bytes of
// zeros (input.chunk).
func (p *Plan) addInput(addr uint64, in *input, off, n, zero uint64) {
	p.chunks = append(p.chunks, in.chunk(addr, off, n, zero))
}

// notef adds a -v line logged when the machine is built.
func (p *Plan) notef(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// loadedf adds a -v line logged once the guest is in memory.
func (p *Plan) loadedf(format string, args ...any) {
	p.loaded = append(p.loaded, fmt.Sprintf(format, args...))
}
