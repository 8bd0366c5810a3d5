package guests

import (
	"bytes"
	"debug/elf"
	"strings"
	"testing"
)

func TestTestInitIsAStaticELF(t *testing.T) {
	img := TestInit()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		t.Fatalf("class %v machine %v type %v", f.Class, f.Machine, f.Type)
	}
	if len(f.Progs) != 1 || f.Progs[0].Type != elf.PT_LOAD || f.Progs[0].Flags != elf.PF_R|elf.PF_X {
		t.Fatalf("program headers %+v", f.Progs)
	}
	p := f.Progs[0]
	if f.Entry < p.Vaddr || f.Entry >= p.Vaddr+p.Memsz || p.Off != 0 || p.Filesz != uint64(len(img)) {
		t.Fatalf("entry %#x outside [%#x, +%#x)", f.Entry, p.Vaddr, p.Memsz)
	}
	code := img[f.Entry-p.Vaddr:]
	got := disasm(t, code[:len(initCode)], 64)
	want := []string{
		"mov eax, 0x1", "mov edi, 0x1", "lea rsi, ptr [rip+0x2b]", "mov edx, 0x23", "syscall",
		"mov eax, 0xa9",
		"mov edi, -0x11e2153", // 0xfee1dead, printed as a signed imm32
		"mov esi, 0x28121969", "mov edx, 0x4321fedc", "syscall",
		"mov eax, 0x3c", "mov edi, 0x1", "syscall", "jmp .-0xe",
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("code:\n got %q\nwant %q", got, want)
	}
	// lea rsi ends at offset 0x11 of the code: the message is at 0x11+0x2b,
	// 0x23 bytes long. 169 is SYS_reboot and 60 SYS_exit on x86-64.
	if msg := string(code[0x11+0x2b : 0x11+0x2b+0x23]); msg != InitMessage {
		t.Fatalf("message %q", msg)
	}
}
