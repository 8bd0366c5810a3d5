package bootparam

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// note encodes one ELF note (Elf64_Nhdr: namesz, descsz, type; name and
// descriptor each padded to 4 bytes).
func note(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	nm := append([]byte(name), 0)
	binary.Write(&b, binary.LittleEndian, [3]uint32{uint32(len(nm)), uint32(len(desc)), typ})
	b.Write(nm)
	b.Write(make([]byte, (4-len(nm)%4)%4))
	b.Write(desc)
	b.Write(make([]byte, (4-len(desc)%4)%4))
	return b.Bytes()
}

// elfSpec describes a synthetic ELF64 vmlinux.
type elfSpec struct {
	machine   uint16 // e_machine; 62 is EM_X86_64
	etype     uint16 // e_type; 2 is ET_EXEC
	notes     []byte // note area contents
	ptNote    bool   // describe the notes with a PT_NOTE
	shtNote   bool   // describe the notes with an SHT_NOTE section
	loadOff   uint64 // PT_LOAD p_offset
	filesz    uint64 // PT_LOAD p_filesz
	memsz     uint64 // PT_LOAD p_memsz
	paddr     uint64 // PT_LOAD p_paddr
	segmentSz int    // bytes of segment data written at loadOff
}

const (
	synthPaddr = 0x1000000
	synthEntry = 0x1000040
)

// defaultELF is a valid spec: one 0x100-byte PT_LOAD at 0x1000000 with
// 0x200 bytes of bss, and a PT_NOTE with GNU, Linux and Xen notes.
func defaultELF() elfSpec {
	desc := make([]byte, 4)
	binary.LittleEndian.PutUint32(desc, synthEntry)
	var notes []byte
	notes = append(notes, note("GNU", 3, bytes.Repeat([]byte{0xAB}, 20))...)
	notes = append(notes, note("Linux", 0x101, []byte{0})...)  // descsz 1: exercises padding
	notes = append(notes, note("Xen", 17, make([]byte, 8))...) // another Xen note type
	notes = append(notes, note("Xen", 18, desc)...)
	return elfSpec{
		machine: 62, etype: 2, notes: notes, ptNote: true,
		loadOff: 0x200, filesz: 0x100, memsz: 0x300, paddr: synthPaddr, segmentSz: 0x100,
	}
}

// synthELF lays out an ELF64 little-endian file by hand (ELF64 gABI
// offsets): header at 0, program headers at 64, note area at 0x180, segment
// data at loadOff, then optional section headers.
func synthELF(s elfSpec) []byte {
	const noteOff = 0x180
	b := make([]byte, max(int(s.loadOff)+s.segmentSz, noteOff+len(s.notes)))
	copy(b[noteOff:], s.notes)
	for i := range s.segmentSz {
		b[int(s.loadOff)+i] = byte(0x90 + i%7)
	}

	// ELF header.
	copy(b[0:], "\x7fELF")
	b[4] = 2 // EI_CLASS: ELFCLASS64
	b[5] = 1 // EI_DATA: ELFDATA2LSB
	b[6] = 1 // EI_VERSION: EV_CURRENT
	put16(b, 16, s.etype)
	put16(b, 18, s.machine)
	put32(b, 20, 1)                  // e_version
	put64(b, 24, 0xFFFFFFFF81000000) // e_entry (virtual, unused by PVH)
	put64(b, 32, 64)                 // e_phoff
	put16(b, 52, 64)                 // e_ehsize
	put16(b, 54, 56)                 // e_phentsize
	put16(b, 58, 64)                 // e_shentsize

	// Program headers: PT_LOAD, then PT_NOTE.
	phnum := 0
	ph := func(typ uint32, flags uint32, off, paddr, filesz, memsz, align uint64) {
		p := 64 + 56*phnum
		put32(b, p+0, typ)
		put32(b, p+4, flags)
		put64(b, p+8, off)
		put64(b, p+16, paddr+0xFFFFFFFF80000000) // p_vaddr
		put64(b, p+24, paddr)
		put64(b, p+32, filesz)
		put64(b, p+40, memsz)
		put64(b, p+48, align)
		phnum++
	}
	ph(1, 5, s.loadOff, s.paddr, s.filesz, s.memsz, 0x1000) // PT_LOAD, R+X
	if s.ptNote {
		ph(4, 4, noteOff, 0, uint64(len(s.notes)), uint64(len(s.notes)), 4) // PT_NOTE
	}
	put16(b, 56, uint16(phnum)) // e_phnum

	if s.shtNote {
		// Sections: null, .notes (SHT_NOTE), .shstrtab (SHT_STRTAB).
		strtab := []byte("\x00.notes\x00.shstrtab\x00")
		strOff := len(b)
		b = append(b, strtab...)
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		shoff := len(b)
		b = append(b, make([]byte, 3*64)...)
		sh := func(i int, name, typ uint32, off, size uint64) {
			p := shoff + 64*i
			put32(b, p+0, name)
			put32(b, p+4, typ)
			put64(b, p+24, off)
			put64(b, p+32, size)
			put64(b, p+48, 4) // sh_addralign
		}
		sh(1, 1, 7, noteOff, uint64(len(s.notes)))       // .notes, SHT_NOTE
		sh(2, 8, 3, uint64(strOff), uint64(len(strtab))) // .shstrtab, SHT_STRTAB
		put64(b, 40, uint64(shoff))                      // e_shoff
		put16(b, 60, 3)                                  // e_shnum
		put16(b, 62, 2)                                  // e_shstrndx
	}
	return b
}

func TestParseELF(t *testing.T) {
	data := synthELF(defaultELF())
	if !IsELF(data) || IsBzImage(data) {
		t.Fatalf("magic checks: IsELF %v, IsBzImage %v", IsELF(data), IsBzImage(data))
	}
	k, err := parseELF(data)
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != synthEntry {
		t.Errorf("Entry = 0x%X, want 0x%X", k.Entry, synthEntry)
	}
	if len(k.Segments) != 1 {
		t.Fatalf("%d segments, want 1", len(k.Segments))
	}
	s := k.Segments[0]
	if s.Paddr != synthPaddr || s.Memsz != 0x300 {
		t.Errorf("segment paddr 0x%X memsz 0x%X, want 0x%X 0x300", s.Paddr, s.Memsz, synthPaddr)
	}
	checkBytes(t, "segment data", segmentBytes(data, s), data[0x200:0x300])
	if got := k.End(); got != synthPaddr+0x300 {
		t.Errorf("End = 0x%X, want 0x%X", got, synthPaddr+0x300)
	}
}

func TestParseELFEntryVariants(t *testing.T) {
	quad := make([]byte, 8)
	binary.LittleEndian.PutUint64(quad, 0xFFFFFFFF_00000000|synthEntry)
	tests := []struct {
		name    string
		spec    func() elfSpec
		wantErr string
	}{
		{"8-byte descriptor takes the low 32 bits", func() elfSpec {
			s := defaultELF()
			s.notes = note("Xen", 18, quad)
			return s
		}, ""},
		{"SHT_NOTE section without PT_NOTE", func() elfSpec {
			s := defaultELF()
			s.ptNote, s.shtNote = false, true
			return s
		}, ""},
		{"missing note", func() elfSpec {
			s := defaultELF()
			s.notes = note("GNU", 3, make([]byte, 20))
			return s
		}, "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build with CONFIG_PVH=y"},
		{"no notes at all", func() elfSpec {
			s := defaultELF()
			s.ptNote = false
			return s
		}, "vmlinux has no PVH entry note"},
		{"type 18 with another owner", func() elfSpec {
			s := defaultELF()
			s.notes = note("Xem", 18, []byte{0x40, 0, 0, 1})
			return s
		}, "vmlinux has no PVH entry note"},
		{"bad descriptor size", func() elfSpec {
			s := defaultELF()
			s.notes = note("Xen", 18, []byte{1, 2})
			return s
		}, "2-byte descriptor, want 4 or 8"},
		{"note overruns area", func() elfSpec {
			s := defaultELF()
			n := note("Xen", 18, []byte{0x40, 0, 0, 1})
			put32(n, 4, 100) // descsz
			s.notes = n
			return s
		}, "overrun the 20-byte note area"},
		{"truncated note header", func() elfSpec {
			s := defaultELF()
			s.notes = []byte{4, 0, 0, 0, 4, 0}
			return s
		}, "truncated header"},
		{"entry outside segments", func() elfSpec {
			s := defaultELF()
			s.paddr = 0x2000000
			return s
		}, "PVH entry point 0x1000040 lies outside every PT_LOAD segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := parseELF(synthELF(tt.spec()))
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Entry != synthEntry {
				t.Errorf("Entry = 0x%X, want 0x%X", k.Entry, synthEntry)
			}
		})
	}
}

func TestParseELFRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *elfSpec)
		edit   func(b []byte) []byte
		want   string
	}{
		{"wrong machine", func(s *elfSpec) { s.machine = 183 }, nil, "ELF machine is EM_AARCH64, want EM_X86_64"},
		{"not executable", func(s *elfSpec) { s.etype = 3 }, nil, "ELF type is ET_DYN, want ET_EXEC"},
		{"filesz > memsz", func(s *elfSpec) { s.memsz = 0x80 }, nil, "p_filesz 0x100 exceeds p_memsz 0x80"},
		{"segment past end of file", func(s *elfSpec) { s.filesz = 0x1000; s.memsz = 0x1000 }, nil, "lies outside the"},
		{"segment offset past end of file", func(s *elfSpec) { s.loadOff = 0x10000; s.segmentSz = 0 }, nil, "lies outside the"},
		{"segment offset wraps", func(s *elfSpec) { s.loadOff = ^uint64(0) - 0x10; s.segmentSz = 0 }, nil, ""}, // rejected by debug/elf or fileRange
		{"ELF32", nil, func(b []byte) []byte { b[4] = 1; return b }, ""},
		{"big endian", nil, func(b []byte) []byte { b[5] = 2; return b }, ""},
		{"bad magic", nil, func(b []byte) []byte { b[1] = 'X'; return b }, "not an ELF file"},
		{"truncated header", nil, func(b []byte) []byte { return b[:40] }, "not an ELF file"},
		{"truncated program headers", nil, func(b []byte) []byte { return b[:100] }, "not an ELF file"},
		{"truncated notes", nil, func(b []byte) []byte { return b[:0x190] }, "lies outside the"},
		{"truncated segment", nil, func(b []byte) []byte { return b[:0x280] }, "lies outside the 640-byte file"},
		{"empty", nil, func(b []byte) []byte { return nil }, "not an ELF file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaultELF()
			if tt.mutate != nil {
				tt.mutate(&s)
			}
			data := synthELF(s)
			if tt.edit != nil {
				data = tt.edit(data)
			}
			k, err := parseELF(data)
			if k != nil || err == nil {
				t.Fatalf("ParseELF accepted it: %+v", k)
			}
			if tt.want != "" {
				wantErr(t, err, tt.want)
			}
		})
	}
}

func TestIsELF(t *testing.T) {
	if IsELF(nil) || IsELF([]byte("\x7fEL")) || IsELF([]byte("MZ\x90\x00")) {
		t.Errorf("IsELF(non-ELF) = true")
	}
	if !IsELF([]byte("\x7fELF")) {
		t.Errorf("IsELF(magic) = false")
	}
}
