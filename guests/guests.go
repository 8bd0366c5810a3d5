// Package guests holds tiny hand-assembled guest programs: the demo, and the
// guests the KVM tests and benchmarks run. Each is a flat binary for
// `govmm run -raw`; its source is in testdata/guests/ (GNU as, Intel
// syntax), and the listing beside each byte slice shows what it encodes.
package guests

import "encoding/binary"

// Hello prints "Hello from the govmm demo guest, running at CPL N" and a
// newline on COM1, with N read from CS, then resets the VM through the
// i8042. It is position-independent 64-bit code: `govmm demo` runs it at
// CPL 3 (-raw-mode user), where this host runs guests natively.
var Hello = []byte{
	0x48, 0x8d, 0x35, 0x1c, 0x00, 0x00, 0x00, // lea rsi, [rip+0x1c]   ; msg
	0xb9, 0x30, 0x00, 0x00, 0x00, // mov ecx, 48           ; len(msg)
	0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8         ; COM1 THR
	0xf3, 0x6e, // rep outsb             ; one exit per byte, or one for all
	0x66, 0x8c, 0xc8, // mov ax, cs
	0x24, 0x03, // and al, 3             ; CPL = CS.RPL
	0x04, 0x30, // add al, '0'
	0xee,       // out dx, al
	0xb0, 0x0a, // mov al, '\n'
	0xee,       // out dx, al
	0xb0, 0xfe, // mov al, 0xfe          ; i8042: pulse reset
	0xe6, 0x64, // out 0x64, al
	0xeb, 0xfe, // jmp $
	// msg:
	'H', 'e', 'l', 'l', 'o', ' ', 'f', 'r', 'o', 'm', ' ', 't', 'h', 'e', ' ', 'g', 'o', 'v', 'm', 'm', ' ',
	'd', 'e', 'm', 'o', ' ', 'g', 'u', 'e', 's', 't', ',', ' ', 'r', 'u', 'n', 'n', 'i', 'n', 'g', ' ',
	'a', 't', ' ', 'C', 'P', 'L', ' ',
}

// HelloGreeting is what Hello prints before the CPL digit.
const HelloGreeting = "Hello from the govmm demo guest, running at CPL "

// RealMode prints "hello from real mode\n" on COM1 from 16-bit real mode and
// resets the VM. It must be loaded at a 16-byte aligned address, which
// becomes CS.base with IP = 0.
var RealMode = []byte{
	0x0e,             // push cs
	0x1f,             // pop ds                 ; DS = CS
	0xbe, 0x16, 0x00, // mov si, 0x16           ; msg
	0xb9, 0x15, 0x00, // mov cx, 21             ; len(msg)
	0xba, 0xf8, 0x03, // mov dx, 0x3f8
	0xfc,       // cld
	0xac,       // 1: lodsb
	0xee,       // out dx, al
	0xe2, 0xfc, // loop 1b
	0xb0, 0xfe, // mov al, 0xfe
	0xe6, 0x64, // out 0x64, al             ; reset
	0xeb, 0xfe, // jmp $
	// msg:
	'h', 'e', 'l', 'l', 'o', ' ', 'f', 'r', 'o', 'm', ' ', 'r', 'e', 'a', 'l', ' ', 'm', 'o', 'd', 'e', '\n',
}

// PIOPort is the port PIOLoop writes to.
const PIOPort = 0x510

// PIOLoop returns a 64-bit guest that writes AL to PIOPort n times (one exit
// each), then resets the VM. Run at CPL 3, it measures the cost of one port
// I/O exit through the VMM.
func PIOLoop(n uint32) []byte {
	b := []byte{
		0xb9, 0, 0, 0, 0, // mov ecx, n
		0x66, 0xba, 0x10, 0x05, // mov dx, 0x510
		0xee,       // 1: out dx, al
		0xff, 0xc9, // dec ecx
		0x75, 0xfb, // jnz 1b
		0xb0, 0xfe, // mov al, 0xfe
		0xe6, 0x64, // out 0x64, al
		0xeb, 0xfe, // jmp $
	}
	binary.LittleEndian.PutUint32(b[1:], n)
	return b
}

// TripleFault executes ud2. With govmm's empty IDT (limit 0) the #UD cannot
// be delivered, nor the #DF after it: the CPU shuts down (triple fault).
var TripleFault = []byte{0x0f, 0x0b} // ud2

// Spin loops forever, for -timeout tests.
var Spin = []byte{0xeb, 0xfe} // jmp $

// HaltForever disables interrupts and halts: at CPL 0 nothing but an NMI can
// wake it, which govmm reports as a crash.
var HaltForever = []byte{
	0xfa,       // cli
	0xf4,       // 1: hlt
	0xeb, 0xfd, // jmp 1b
}

// CountDown returns a 64-bit guest that counts ECX down from n without any
// exit, then resets the VM. Timed at CPL 0 and at CPL 3, it shows whether
// the host runs guest ring 0 in hardware or emulates it.
func CountDown(n uint32) []byte {
	b := []byte{
		0xb9, 0, 0, 0, 0, // mov ecx, n
		0xff, 0xc9, // 1: dec ecx
		0x75, 0xfc, // jnz 1b
		0xb0, 0xfe, // mov al, 0xfe
		0xe6, 0x64, // out 0x64, al
		0xeb, 0xfe, // jmp $
	}
	binary.LittleEndian.PutUint32(b[1:], n)
	return b
}
