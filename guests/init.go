package guests

import "encoding/binary"

// initCode is the built-in test /init: the same program as
// testdata/init/init.c, hand-assembled (testdata/guests/init.S) so that
// `govmm initramfs` needs no compiler. It writes the hello line to fd 1, asks
// the kernel to power off (ACPI S5: govmm turns it into exit 0), and exits
// in a loop if that fails. Its first system call is the write: on a host
// where guest user space cannot make system calls, the kernel reports
// "init[1]: segfault" there.
var initCode = []byte{
	0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1            ; SYS_write
	0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1            ; stdout
	0x48, 0x8d, 0x35, 0x2b, 0x00, 0x00, 0x00, // lea rsi, [rip+0x2b] ; msg
	0xba, 0x23, 0x00, 0x00, 0x00, // mov edx, 35           ; len(msg)
	0x0f, 0x05, // syscall
	0xb8, 0xa9, 0x00, 0x00, 0x00, // mov eax, 169          ; SYS_reboot
	0xbf, 0xad, 0xde, 0xe1, 0xfe, // mov edi, 0xfee1dead   ; LINUX_REBOOT_MAGIC1
	0xbe, 0x69, 0x19, 0x12, 0x28, // mov esi, 0x28121969   ; LINUX_REBOOT_MAGIC2
	0xba, 0xdc, 0xfe, 0x21, 0x43, // mov edx, 0x4321fedc   ; LINUX_REBOOT_CMD_POWER_OFF
	0x0f, 0x05, // syscall
	0xb8, 0x3c, 0x00, 0x00, 0x00, // 1: mov eax, 60        ; SYS_exit
	0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1
	0x0f, 0x05, // syscall
	0xeb, 0xf2, // jmp 1b
}

// InitMessage is the line the built-in /init writes.
const InitMessage = "govmm-guest: hello from user space\n"

// ELF64 layout of TestInit: the file header, one program header, then the
// code, all in one read+execute PT_LOAD segment (System V gABI, ELF-64).
const (
	initLoadAddr = 0x400000
	ehdrSize     = 64
	phdrSize     = 56
	initCodeOff  = ehdrSize + phdrSize
)

// TestInit returns the built-in test /init as a static x86-64 ELF
// executable.
func TestInit() []byte {
	b := make([]byte, initCodeOff, initCodeOff+len(initCode)+len(InitMessage))
	b = append(append(b, initCode...), InitMessage...)
	le := binary.LittleEndian
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2 /* ELFCLASS64 */, 1 /* little-endian */, 1 /* EV_CURRENT */})
	le.PutUint16(b[16:], 2)                        // e_type: ET_EXEC
	le.PutUint16(b[18:], 62)                       // e_machine: EM_X86_64
	le.PutUint32(b[20:], 1)                        // e_version
	le.PutUint64(b[24:], initLoadAddr+initCodeOff) // e_entry
	le.PutUint64(b[32:], ehdrSize)                 // e_phoff
	le.PutUint16(b[52:], ehdrSize)                 // e_ehsize
	le.PutUint16(b[54:], phdrSize)                 // e_phentsize
	le.PutUint16(b[56:], 1)                        // e_phnum
	p := b[ehdrSize:]
	le.PutUint32(p[0:], 1)               // p_type: PT_LOAD
	le.PutUint32(p[4:], 5)               // p_flags: PF_R | PF_X
	le.PutUint64(p[16:], initLoadAddr)   // p_vaddr
	le.PutUint64(p[24:], initLoadAddr)   // p_paddr
	le.PutUint64(p[32:], uint64(len(b))) // p_filesz
	le.PutUint64(p[40:], uint64(len(b))) // p_memsz
	le.PutUint64(p[48:], 0x1000)         // p_align
	return b
}
