package machine

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/guests"
)

// These tests need no KVM: Config.Plan checks everything before KVM is
// opened, and New is pointed at a KVM device that does not exist.

// fakeBzImage returns a minimal bzImage that passes bootparam.ParseBzImage:
// protocol 2.15, 64-bit entry, one setup sector, a 4 KiB kernel that needs 4 MiB (init_size).
func fakeBzImage() []byte {
	b := make([]byte, 2*512+4096)
	le := binary.LittleEndian
	b[0x1f1] = 1                        // setup_sects
	le.PutUint16(b[0x1f4:], 4096/16)    // syssize
	le.PutUint16(b[0x1fe:], 0xaa55)     // boot_flag
	b[0x201] = 0x66                     // header ends at 0x268
	copy(b[0x202:], "HdrS")             // header magic
	le.PutUint16(b[0x206:], 0x020f)     // version 2.15
	b[0x211] = 0x01                     // loadflags: LOADED_HIGH
	le.PutUint32(b[0x22c:], 0x7fffffff) // initrd_addr_max
	le.PutUint16(b[0x236:], 0x0001)     // xloadflags: XLF_KERNEL_64
	le.PutUint32(b[0x238:], 2047)       // cmdline_size
	le.PutUint32(b[0x260:], 4<<20)      // init_size
	return b
}

// badConfigFiles makes the files the bad configurations refer to.
type badConfigFiles struct {
	dir, kernel, missing, big, disk string
}

func makeBadConfigFiles(t *testing.T) badConfigFiles {
	t.Helper()
	dir := t.TempDir()
	f := badConfigFiles{
		dir:     dir,
		kernel:  filepath.Join(dir, "bzImage"),
		missing: filepath.Join(dir, "missing"),
		big:     filepath.Join(dir, "big.img"),
		disk:    filepath.Join(dir, "disk.img"),
	}
	if err := os.WriteFile(f.kernel, fakeBzImage(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.disk, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f.big, 64<<20); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPlanRejectsBadConfigsWithoutKVM(t *testing.T) {
	f := makeBadConfigFiles(t)
	noKVM := filepath.Join(f.dir, "no-kvm")
	mem := uint64(16 << 20)
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		// The cases of TestBadConfigs (kvm_test.go).
		"tiny memory":   {Config{MemSize: 1 << 20, RawImage: guests.Spin}, "-m: 1 MiB is too small"},
		"raw over GDT":  {Config{MemSize: mem, RawImage: guests.Spin, RawAddr: 0x1000}, "overlaps govmm's boot tables"},
		"raw too big":   {Config{MemSize: mem, RawImage: make([]byte, 17<<20), RawMode: RawUser}, "does not fit"},
		"real above 1M": {Config{MemSize: mem, RawImage: guests.Spin, RawAddr: 0x100000}, "below 1 MiB"},
		"no guest":      {Config{MemSize: mem}, "nothing to run"},
		"missing raw":   {Config{MemSize: mem, Raw: "/nonexistent/guest.bin"}, "-raw /nonexistent/guest.bin: no such file or directory"},
		"too many cpus": {Config{MemSize: mem, RawImage: guests.Spin, CPUs: 65}, "-smp: 65 CPUs"},
		// Beyond them.
		"negative cpus":      {Config{MemSize: mem, RawImage: guests.Spin, CPUs: -1}, "-smp: -1 CPUs"},
		"bad raw mode":       {Config{MemSize: mem, RawImage: guests.Spin, RawMode: 7}, "-raw-mode: unknown mode 7"},
		"kernel and raw":     {Config{MemSize: mem, Kernel: f.kernel, RawImage: guests.Spin}, "exactly one of -kernel and -raw"},
		"initrd with raw":    {Config{MemSize: mem, RawImage: guests.Spin, Initrd: f.disk}, "-initrd needs -kernel"},
		"raw at top of RAM":  {Config{MemSize: mem, RawImage: guests.Spin, RawMode: RawUser, RawAddr: mem - 1}, "does not fit"},
		"raw wraps":          {Config{MemSize: mem, RawImage: guests.Spin, RawMode: RawUser, RawAddr: ^uint64(0)}, "does not fit"},
		"raw larger than -m": {Config{MemSize: mem, Raw: f.big}, "-raw " + f.big + ": 64.0 MiB is more than guest RAM"},
		"raw is a directory": {Config{MemSize: mem, Raw: f.dir}, "-raw " + f.dir + ": is a directory"},
		"empty raw":          {Config{MemSize: mem, RawImage: []byte{}}, "empty image"},
		"missing kernel":     {Config{MemSize: mem, Kernel: f.missing}, "-kernel " + f.missing + ": no such file or directory"},
		"kernel is a dir":    {Config{MemSize: mem, Kernel: f.dir}, "-kernel " + f.dir + ": is a directory"},
		"not a kernel":       {Config{MemSize: mem, Kernel: f.disk}, "neither a bzImage nor an ELF vmlinux"},
		"missing initrd":     {Config{MemSize: mem, Kernel: f.kernel, Initrd: f.missing}, "-initrd " + f.missing + ": no such file or directory"},
		"initrd too big":     {Config{MemSize: 32 << 20, Kernel: f.kernel, Initrd: f.big}, "-initrd " + f.big + ": 64.0 MiB is more than guest RAM (-m 32 MiB)"},
		"initrd over kernel": {Config{MemSize: 5 << 20, Kernel: f.kernel, Initrd: f.disk}, "-initrd " + f.disk + ": initrd"},
		"kernel too big":     {Config{MemSize: 4 << 20, Kernel: f.kernel}, "needs 4 MiB from 1 MiB up; -m 4 MiB is too small"},
		"long cmdline":       {Config{MemSize: mem, Kernel: f.kernel, Cmdline: strings.Repeat("x", 70<<10), Compat: compat.Off}, "-append: kernel command line is 71680 bytes; this kernel accepts at most 2047"},
		"NUL in cmdline":     {Config{MemSize: mem, Kernel: f.kernel, Cmdline: "a\x00b", Compat: compat.Off}, "-append: kernel command line contains a NUL byte"},
		"missing disk":       {Config{MemSize: mem, RawImage: guests.Spin, Disks: []Disk{{Path: f.missing}}}, "-disk " + f.missing + ": no such file or directory"},
		"disk is a dir":      {Config{MemSize: mem, RawImage: guests.Spin, Disks: []Disk{{Path: f.dir, ReadOnly: true}}}, "-disk " + f.dir + ": is a directory"},
		"disk is a chardev":  {Config{MemSize: mem, RawImage: guests.Spin, Disks: []Disk{{Path: os.DevNull}}}, "-disk /dev/null: is a character device"},
		"disk twice":         {Config{MemSize: mem, RawImage: guests.Spin, Disks: []Disk{{Path: f.disk}, {Path: f.disk, ReadOnly: true}}}, "the same image as -disk " + f.disk},
		"too many devices":   {Config{MemSize: mem, RawImage: guests.Spin, Disks: make([]Disk, 30), RNG: true}, "31 virtio devices"},
		"acpi with raw":      {Config{MemSize: mem, RawImage: guests.Spin, ACPI: true}, "-acpi needs -kernel"},
	} {
		if err := c.cfg.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		c.cfg.KVMPath = noKVM
		m, err := New(c.cfg)
		if err == nil {
			m.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || strings.Contains(msg, noKVM) || strings.Contains(msg, "/dev/kvm") {
			t.Errorf("%s: error %q, want one line containing %q and no KVM", name, msg, c.want)
		}
	}
}

// TestGoodConfigsFailOnlyAtKVM shows that the checks above stop at the
// config: a good one passes Plan and fails only when KVM is opened.
func TestGoodConfigsFailOnlyAtKVM(t *testing.T) {
	f := makeBadConfigFiles(t)
	noKVM := filepath.Join(f.dir, "no-kvm")
	for name, cfg := range map[string]Config{
		"raw":           {MemSize: 16 << 20, RawImage: guests.Spin, RawMode: RawUser},
		"raw file":      {MemSize: 16 << 20, Raw: f.disk, RawMode: RawLong, Disks: []Disk{{Path: f.disk, ReadOnly: true}, {Path: f.disk, ReadOnly: true}}},
		"bzImage":       {MemSize: 64 << 20, Kernel: f.kernel, Initrd: f.disk, Cmdline: "console=ttyS0", RNG: true},
		"bzImage, 5 GB": {MemSize: 5 << 30, Kernel: f.kernel, Disks: []Disk{{Path: f.disk}}, VirtioConsole: true, CPUs: 64, ACPI: true},
	} {
		p, err := cfg.Plan()
		if err != nil {
			t.Errorf("%s: Plan: %v", name, err)
			continue
		}
		if len(p.chunks) == 0 {
			t.Errorf("%s: nothing planned", name)
		}
		cfg.KVMPath = noKVM
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), noKVM) {
			t.Errorf("%s: New without KVM: %v, want an error naming %s", name, err, noKVM)
		}
	}
}

func TestPlanLaysOutBzImage(t *testing.T) {
	f := makeBadConfigFiles(t)
	p, err := Config{MemSize: 64 << 20, Kernel: f.kernel, Initrd: f.disk, Cmdline: " quiet ", Compat: compat.Off}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	at := map[uint64]chunk{}
	for _, c := range p.chunks {
		if !p.inRAM(c.addr, c.size()+c.zero) {
			t.Errorf("chunk at %#x (%d bytes) is outside RAM", c.addr, c.size())
		}
		at[c.addr] = c
	}
	if c := at[kernelAddr]; c.size() != 4096 {
		t.Errorf("kernel: %d bytes at %#x, want 4096", c.size(), kernelAddr)
	}
	if c := at[cmdlineAddr]; string(c.data) != "quiet\x00" {
		t.Errorf("command line %q, want %q", c.data, "quiet\x00")
	}
	if _, ok := at[zeroPageAddr]; !ok {
		t.Error("no zero page")
	}
	if p.entry.mode != entryLong || p.entry.regs.RIP != kernelAddr+0x200 || p.entry.regs.RSI != zeroPageAddr {
		t.Errorf("entry %+v", p.entry)
	}
	// The initrd sits page-aligned at the top of RAM.
	if c, ok := at[64<<20-4096]; !ok || c.size() != 4096 {
		t.Errorf("initrd not at the top of RAM: %v", p.chunks)
	}
}
