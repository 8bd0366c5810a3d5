package initramfs

import (
	"bytes"
	"debug/elf"
	"os"
	"testing"
)

// The test init program is never run here: as root on the host, its reboot
// call would really power the machine off. These checks only read the ELF.
func TestInitProgramELF(t *testing.T) {
	path := buildInit(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= 16<<10 {
		t.Errorf("init is %d bytes, want < 16 KiB", fi.Size())
	}

	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Errorf("init is %v %v %v, want ELFCLASS64 EM_X86_64 ET_EXEC", f.Class, f.Machine, f.Type)
	}

	// Static: no interpreter and no dynamic section. Entry: inside an
	// executable loadable segment.
	entryOK := false
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP, elf.PT_DYNAMIC:
			t.Errorf("init has a %v segment: it is not static", p.Type)
		case elf.PT_LOAD:
			if p.Flags&elf.PF_X != 0 && f.Entry >= p.Vaddr && f.Entry < p.Vaddr+p.Memsz {
				entryOK = true
			}
		}
	}
	if f.Entry == 0 || !entryOK {
		t.Errorf("entry point %#x is not in an executable PT_LOAD segment", f.Entry)
	}

	text := f.Section(".text")
	if text == nil {
		t.Fatal("init has no .text section")
	}
	if text.Size > 1024 {
		t.Errorf(".text is %d bytes, want at most 1 KiB", text.Size)
	}

	// The message the guest prints, exactly, somewhere in the loaded data.
	const msg = "govmm-guest: hello from user space\n"
	found := false
	for _, s := range f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		data, err := s.Data()
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if bytes.Contains(data, []byte(msg)) {
			found = true
		}
	}
	if !found {
		t.Errorf("the message %q is not in any loaded section", msg)
	}
}
