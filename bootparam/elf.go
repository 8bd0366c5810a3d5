package bootparam

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// XenElfnotePhys32Entry is the ELF note type whose descriptor is the 32-bit
// physical PVH entry point (elfnote.h: XEN_ELFNOTE_PHYS32_ENTRY), in a note
// named "Xen".
const XenElfnotePhys32Entry = 18

// xenNoteName is the owner name of Xen ELF notes.
const xenNoteName = "Xen"

// errNoPVHNote is returned when a vmlinux lacks the PVH entry note.
var errNoPVHNote = errors.New("vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build with CONFIG_PVH=y")

// Segment is one PT_LOAD segment of an ELF kernel.
type Segment struct {
	// Paddr is the guest physical address the segment loads at.
	Paddr uint64
	// Offset and Filesz locate the segment's file bytes (p_offset,
	// p_filesz); ParseELF checks that they lie inside the file but does
	// not read them.
	Offset, Filesz uint64
	// Memsz is the size in memory; bytes past Filesz are zero-filled.
	Memsz uint64
}

// maxNotes bounds how many bytes of ELF notes ParseELF reads from one
// PT_NOTE segment or SHT_NOTE section: a vmlinux has well under a KiB.
const maxNotes = 1 << 20

// ELFKernel is a parsed uncompressed vmlinux with a PVH entry point.
type ELFKernel struct {
	// Entry is the 32-bit physical PVH entry point
	// (XEN_ELFNOTE_PHYS32_ENTRY).
	Entry uint32
	// Segments are the PT_LOAD segments in program header order.
	Segments []Segment
}

// End returns the first physical address past every loaded segment.
func (k *ELFKernel) End() uint64 {
	var end uint64
	for _, s := range k.Segments {
		end = max(end, s.Paddr+s.Memsz)
	}
	return end
}

// IsELF reports whether data starts with the ELF magic "\x7fELF".
func IsELF(data []byte) bool {
	return bytes.HasPrefix(data, []byte(elf.ELFMAG))
}

// ParseELF parses an ELF64 x86-64 executable (an uncompressed vmlinux) of
// size bytes, read through r, for the PVH boot path: its PT_LOAD segments
// and the entry point from the Xen PHYS32_ENTRY note. The entry point must
// lie inside a PT_LOAD segment. It reads the ELF headers and the notes, not
// the segments' contents.
func ParseELF(r io.ReaderAt, size int64) (*ELFKernel, error) {
	f, err := elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("not an ELF file: %w", err)
	}
	if f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("ELF class is %v, want ELFCLASS64", f.Class)
	}
	if f.Data != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("ELF data encoding is %v, want ELFDATA2LSB", f.Data)
	}
	if f.Machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("ELF machine is %v, want EM_X86_64", f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("ELF type is %v, want ET_EXEC", f.Type)
	}

	k := &ELFKernel{}
	entry, found := uint32(0), false
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD && p.Type != elf.PT_NOTE {
			continue
		}
		if err := checkRange(size, p.Off, p.Filesz); err != nil {
			return nil, fmt.Errorf("program header %d (%v): %w", i, p.Type, err)
		}
		if p.Type == elf.PT_NOTE {
			if !found {
				entry, found, err = readPVHEntry(r, p.Off, p.Filesz)
				if err != nil {
					return nil, fmt.Errorf("program header %d (PT_NOTE): %w", i, err)
				}
			}
			continue
		}
		if p.Filesz > p.Memsz {
			return nil, fmt.Errorf("program header %d (PT_LOAD): p_filesz 0x%X exceeds p_memsz 0x%X", i, p.Filesz, p.Memsz)
		}
		if p.Paddr+p.Memsz < p.Paddr {
			return nil, fmt.Errorf("program header %d (PT_LOAD): p_paddr 0x%X + p_memsz 0x%X wraps around", i, p.Paddr, p.Memsz)
		}
		k.Segments = append(k.Segments, Segment{Paddr: p.Paddr, Offset: p.Off, Filesz: p.Filesz, Memsz: p.Memsz})
	}
	if !found {
		// Fall back to note sections when no PT_NOTE carried the note.
		for _, s := range f.Sections {
			if s.Type != elf.SHT_NOTE {
				continue
			}
			if err := checkRange(size, s.Offset, s.Size); err != nil {
				return nil, fmt.Errorf("section %s (SHT_NOTE): %w", s.Name, err)
			}
			if entry, found, err = readPVHEntry(r, s.Offset, s.Size); err != nil {
				return nil, fmt.Errorf("section %s (SHT_NOTE): %w", s.Name, err)
			}
			if found {
				break
			}
		}
	}
	if !found {
		return nil, errNoPVHNote
	}
	if len(k.Segments) == 0 {
		return nil, fmt.Errorf("vmlinux has no PT_LOAD segments")
	}
	inside := false
	for _, s := range k.Segments {
		if uint64(entry) >= s.Paddr && uint64(entry) < s.Paddr+s.Memsz {
			inside = true
			break
		}
	}
	if !inside {
		return nil, fmt.Errorf("PVH entry point 0x%X lies outside every PT_LOAD segment", entry)
	}
	k.Entry = entry
	return k, nil
}

// checkRange reports an error unless [off, off+n) lies inside a file of
// size bytes.
func checkRange(size int64, off, n uint64) error {
	if size < 0 || off > uint64(size) || n > uint64(size)-off {
		return fmt.Errorf("file range [0x%X, +0x%X) lies outside the %d-byte file", off, n, size)
	}
	return nil
}

// readPVHEntry reads n bytes of notes at off (a range checkRange accepted)
// and looks for the PVH entry in them.
func readPVHEntry(r io.ReaderAt, off, n uint64) (entry uint32, found bool, err error) {
	if n > maxNotes {
		return 0, false, fmt.Errorf("%d bytes of notes; govmm reads at most %d", n, maxNotes)
	}
	notes := make([]byte, n)
	if got, err := r.ReadAt(notes, int64(off)); got < len(notes) {
		return 0, false, fmt.Errorf("reading the notes: %w", err)
	}
	return findPVHEntry(notes)
}

// findPVHEntry scans a block of ELF notes (Elf64_Nhdr: u32 namesz, u32
// descsz, u32 type, then name and descriptor, each padded to 4 bytes) for the
// Xen PHYS32_ENTRY note and returns its entry point.
func findPVHEntry(notes []byte) (entry uint32, found bool, err error) {
	le := binary.LittleEndian
	for off := uint64(0); off < uint64(len(notes)); {
		rest := notes[off:]
		if len(rest) < 12 {
			return 0, false, fmt.Errorf("note at offset %d: truncated header (%d bytes)", off, len(rest))
		}
		namesz, descsz, typ := uint64(le.Uint32(rest)), uint64(le.Uint32(rest[4:])), le.Uint32(rest[8:])
		nameEnd := 12 + align4(namesz)
		descEnd := nameEnd + align4(descsz)
		if descEnd > uint64(len(rest)) {
			return 0, false, fmt.Errorf("note at offset %d: name (%d bytes) and descriptor (%d bytes) overrun the %d-byte note area", off, namesz, descsz, len(rest))
		}
		name := bytes.TrimRight(rest[12:12+namesz], "\x00")
		if typ == XenElfnotePhys32Entry && string(name) == xenNoteName {
			desc := rest[nameEnd : nameEnd+descsz]
			switch len(desc) {
			case 4:
				return le.Uint32(desc), true, nil
			case 8:
				// Linux emits the entry with _ASM_PTR on some
				// versions; the address is the low 32 bits.
				return uint32(le.Uint64(desc)), true, nil
			default:
				return 0, false, fmt.Errorf("Xen PHYS32_ENTRY note has a %d-byte descriptor, want 4 or 8", len(desc))
			}
		}
		off += descEnd
	}
	return 0, false, nil
}

// align4 rounds n up to a multiple of 4 (ELF note padding).
func align4(n uint64) uint64 { return (n + 3) &^ 3 }
