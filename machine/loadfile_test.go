package machine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/memory"
)

// These tests load a Plan into a memory.Memory over a plain byte slice
// (Plan.writeChunks, what load calls), so they need no KVM. Where the
// bytes must land comes from the boot protocols: boot.rst for a bzImage,
// the ELF program headers and struct hvm_start_info for PVH.

// noise returns n bytes that differ from file to file.
func noise(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bzImageWith is fakeBzImage (one setup sector) with kernel as its
// protected-mode code; the setup sectors are filled with 0xCC outside the
// header so that loading them by mistake shows.
func bzImageWith(kernel []byte) []byte {
	b := fakeBzImage()[:2*512]
	for i := 0x268; i < len(b); i++ {
		b[i] = 0xCC
	}
	binary.LittleEndian.PutUint32(b[0x1f4:], uint32((len(kernel)+15)/16)) // syssize
	return append(b, kernel...)
}

// pvhNoteLoad is one PT_LOAD of fakeVmlinux: data at paddr, memsz bytes in
// memory.
type pvhNoteLoad struct {
	paddr, memsz uint64
	data         []byte
}

// fakeVmlinux lays out an ELF64 x86-64 executable by hand (ELF-64 gABI
// offsets): header, one program header per load plus a PT_NOTE holding the
// Xen PHYS32_ENTRY note (elfnote.h, type 18) with entry, then each load's
// bytes at a page-aligned offset.
func fakeVmlinux(entry uint32, loads []pvhNoteLoad) []byte {
	le := binary.LittleEndian
	phnum := len(loads) + 1
	noteOff := 64 + 56*phnum
	note := make([]byte, 20)
	le.PutUint32(note[0:], 4)  // namesz
	le.PutUint32(note[4:], 4)  // descsz
	le.PutUint32(note[8:], 18) // XEN_ELFNOTE_PHYS32_ENTRY
	copy(note[12:], "Xen\x00")
	le.PutUint32(note[16:], entry)
	b := make([]byte, 4096)
	copy(b[noteOff:], note)
	copy(b, "\x7fELF\x02\x01\x01") // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
	le.PutUint16(b[16:], 2)        // e_type: ET_EXEC
	le.PutUint16(b[18:], 62)       // e_machine: EM_X86_64
	le.PutUint32(b[20:], 1)        // e_version
	le.PutUint64(b[32:], 64)       // e_phoff
	le.PutUint16(b[52:], 64)       // e_ehsize
	le.PutUint16(b[54:], 56)       // e_phentsize
	le.PutUint16(b[56:], uint16(phnum))
	ph := func(i int, typ uint32, off, paddr, filesz, memsz uint64) {
		p := b[64+56*i:]
		le.PutUint32(p[0:], typ)
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], paddr) // p_vaddr
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
	}
	for i, l := range loads {
		off := uint64(len(b))
		b = append(b, l.data...)
		b = append(b, make([]byte, (4096-len(b)%4096)%4096)...)
		ph(i, 1, off, l.paddr, uint64(len(l.data)), l.memsz) // PT_LOAD
	}
	ph(len(loads), 4, uint64(noteOff), 0, 20, 20) // PT_NOTE
	return b
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// guestRAM is size bytes of guest memory from address 0, filled with 0xEE
// so that bytes a loader should have zeroed show.
func guestRAM(t *testing.T, size uint64) (*memory.Memory, []byte) {
	t.Helper()
	ram := bytes.Repeat([]byte{0xEE}, int(size))
	mem, err := memory.New(memory.Region{Start: 0, Data: ram})
	if err != nil {
		t.Fatal(err)
	}
	return mem, ram
}

// checkGuest fails the test unless ram[addr:] starts with want.
func checkGuest(t *testing.T, what string, ram []byte, addr uint64, want []byte) {
	t.Helper()
	got := ram[addr : addr+uint64(len(want))]
	if i := firstDiff(got, want); i >= 0 {
		t.Errorf("%s: guest memory at %#x differs from the file at byte %d (got %#02x, want %#02x)", what, addr, i, got[i], want[i])
	}
}

// firstDiff is the first index where a and b (of one length) differ, or -1.
func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func TestLoadBzImageAndInitrdFromFiles(t *testing.T) {
	dir := t.TempDir()
	kernel := noise(300<<10+123, 1)
	initrd := noise(70000, 2)
	img := bzImageWith(kernel)
	const ramSize = 64 << 20
	p, err := Config{
		MemSize: ramSize, Compat: compat.Off, Cmdline: "console=ttyS0",
		Kernel: writeFile(t, dir, "bzImage", img), Initrd: writeFile(t, dir, "initrd", initrd),
	}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	mem, ram := guestRAM(t, ramSize)
	if err := p.writeChunks(mem); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	// boot.rst: with LOADED_HIGH the protected-mode kernel, which starts
	// after the (setup_sects+1) 512-byte sectors of real-mode code (here
	// setup_sects = 1), is loaded at 0x100000.
	checkGuest(t, "protected-mode kernel", ram, 0x100000, img[2*512:])
	if ram[0x100000+uint64(len(kernel))] != 0xEE {
		t.Error("more than the kernel was written at 1 MiB")
	}
	// The zero page: boot.rst's setup header fields at their offsets in
	// struct boot_params.
	zp := ram[p.entry.regs.RSI:]
	rdAddr, rdSize := le.Uint32(zp[0x218:]), le.Uint32(zp[0x21c:]) // ramdisk_image, ramdisk_size
	if rdSize != uint32(len(initrd)) {
		t.Fatalf("ramdisk_size %d, want %d", rdSize, len(initrd))
	}
	checkGuest(t, "initrd at ramdisk_image", ram, uint64(rdAddr), initrd)
	cmd := le.Uint32(zp[0x228:]) // cmd_line_ptr
	checkGuest(t, "command line at cmd_line_ptr", ram, uint64(cmd), []byte("console=ttyS0\x00"))

	// A -reboot restart builds a fresh machine from the same Plan: the
	// files are read again, to the same bytes.
	mem2, ram2 := guestRAM(t, ramSize)
	if err := p.writeChunks(mem2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ram, ram2) {
		t.Error("a second load from the Plan differs from the first")
	}
}

func TestLoadPVHFromFile(t *testing.T) {
	dir := t.TempDir()
	seg1, seg2 := noise(5000, 3), noise(9000, 4)
	const entry = 0x1000040
	vmlinux := fakeVmlinux(entry, []pvhNoteLoad{
		{paddr: 0x1000000, memsz: 0x3000, data: seg1}, // 5000 file bytes, then zeros
		{paddr: 0x1200000, memsz: 9000, data: seg2},
	})
	initrd := noise(4097, 5)
	const ramSize = 64 << 20
	p, err := Config{
		MemSize: ramSize, Compat: compat.Off,
		Kernel: writeFile(t, dir, "vmlinux", vmlinux), Initrd: writeFile(t, dir, "initrd", initrd),
	}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.entry.mode != entryPVH32 || p.entry.regs.RIP != entry {
		t.Fatalf("entry %+v, want PVH at %#x", p.entry, entry)
	}
	mem, ram := guestRAM(t, ramSize)
	if err := p.writeChunks(mem); err != nil {
		t.Fatal(err)
	}
	// ELF: p_filesz bytes from p_offset at p_paddr, zeros up to p_memsz.
	checkGuest(t, "segment 1", ram, 0x1000000, seg1)
	checkGuest(t, "segment 1 bss", ram, 0x1000000+5000, make([]byte, 0x3000-5000))
	checkGuest(t, "segment 2", ram, 0x1200000, seg2)
	// struct hvm_start_info at EBX: magic at 0, nr_modules at 12,
	// modlist_paddr at 16; struct hvm_modlist_entry: paddr, size (u64s).
	le := binary.LittleEndian
	si := ram[p.entry.regs.RBX:]
	if le.Uint32(si) != 0x336ec578 || le.Uint32(si[12:]) != 1 {
		t.Fatalf("start info: magic %#x, %d modules", le.Uint32(si), le.Uint32(si[12:]))
	}
	mod := ram[le.Uint64(si[16:]):]
	if le.Uint64(mod[8:]) != uint64(len(initrd)) {
		t.Fatalf("module size %d, want %d", le.Uint64(mod[8:]), len(initrd))
	}
	checkGuest(t, "initrd module", ram, le.Uint64(mod), initrd)
}

// A kernel or initrd that changed between Plan and load fails the load
// with one line that names the flag and the file.
func TestLoadRefusesChangedFiles(t *testing.T) {
	later := time.Now().Add(time.Hour)
	for name, c := range map[string]struct {
		flag   string
		change func(t *testing.T, path string)
		want   string
	}{
		"initrd grew": {"-initrd", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{1})
			f.Close()
		}, "size 8192 -> 8193 bytes"},
		"kernel rewritten in place, same size": {"-kernel", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			b[len(b)-1] ^= 0xFF
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(path, later, later)
		}, "modified"},
		"kernel replaced, same size and time": {"-kernel", func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			b, _ := os.ReadFile(path)
			tmp := path + ".new"
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(tmp, st.ModTime(), st.ModTime())
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}, "it is another file now"},
		"initrd removed": {"-initrd", func(t *testing.T, path string) {
			os.Remove(path)
		}, "no such file or directory"},
		"kernel truncated": {"-kernel", func(t *testing.T, path string) {
			os.Truncate(path, 1024)
		}, "size"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				"-kernel": writeFile(t, dir, "bzImage", bzImageWith(noise(8192, 6))),
				"-initrd": writeFile(t, dir, "initrd", noise(8192, 7)),
			}
			p, err := Config{MemSize: 64 << 20, Compat: compat.Off, Kernel: files["-kernel"], Initrd: files["-initrd"]}.Plan()
			if err != nil {
				t.Fatal(err)
			}
			c.change(t, files[c.flag])
			mem, _ := guestRAM(t, 64<<20)
			err = p.writeChunks(mem)
			if err == nil {
				t.Fatal("loaded a changed file")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, c.flag+" "+files[c.flag]+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line starting with %q and containing %q", msg, c.flag+" "+files[c.flag]+": ", c.want)
			}
		})
	}
}

// A kernel that is not a regular file (a pipe) cannot be read twice: Plan
// reads it whole, and the load copies those bytes.
func TestLoadKernelFromPipe(t *testing.T) {
	dir := t.TempDir()
	img := bzImageWith(noise(20000, 13))
	fifo := filepath.Join(dir, "kernel.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.Write(img)
		f.Close()
	}()
	p, err := Config{MemSize: 64 << 20, Compat: compat.Off, Kernel: fifo}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	mem, ram := guestRAM(t, 64<<20)
	if err := p.writeChunks(mem); err != nil {
		t.Fatal(err)
	}
	checkGuest(t, "protected-mode kernel", ram, 0x100000, img[2*512:]) // boot.rst, as above
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// Plan keeps no file open, and neither does a load.
func TestPlanAndLoadCloseTheirFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		MemSize: 64 << 20, Compat: compat.Off,
		Kernel: writeFile(t, dir, "bzImage", bzImageWith(noise(8192, 8))), Initrd: writeFile(t, dir, "initrd", noise(100, 9)),
	}
	mem, _ := guestRAM(t, 64<<20)
	if p, err := cfg.Plan(); err != nil || p.writeChunks(mem) != nil {
		t.Fatalf("warm-up: %v", err) // the runtime may open descriptors once
	}
	before := openFDs(t)
	p, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if n := openFDs(t); n != before {
		t.Errorf("Plan left %d descriptors open", n-before)
	}
	if err := p.writeChunks(mem); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(t); n != before {
		t.Errorf("the load left %d descriptors open", n-before)
	}
}

// heapAllocated is how many bytes of heap f allocates.
func heapAllocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Planning an 8 MiB kernel and initrd reads neither into the heap; a file
// that must be read whole (-raw) is read into one buffer of its size.
func TestPlanDoesNotBufferTheKernel(t *testing.T) {
	dir := t.TempDir()
	const size = 8 << 20
	cfg := Config{
		MemSize: 64 << 20, Compat: compat.Off,
		Kernel: writeFile(t, dir, "bzImage", bzImageWith(noise(size, 10))), Initrd: writeFile(t, dir, "initrd", noise(size, 11)),
	}
	var err error
	if n := heapAllocated(func() { _, err = cfg.Plan() }); err != nil || n > 1<<20 {
		t.Errorf("Plan allocated %d bytes (%v), want under 1 MiB for a %d-byte kernel and initrd", n, err, size)
	}
	raw := writeFile(t, dir, "raw", noise(3<<20+5, 12))
	var b []byte
	if n := heapAllocated(func() { b, err = readInput("-raw", raw, 64<<20, "guest RAM") }); err != nil || n > 3<<20+64<<10 {
		t.Errorf("readInput of a %d-byte file allocated %d bytes (%v)", 3<<20+5, n, err)
	}
	if want, _ := os.ReadFile(raw); !bytes.Equal(b, want) {
		t.Error("readInput returned other bytes than the file's")
	}
}
