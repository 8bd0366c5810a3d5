//go:build kvm

package machine

import (
	"encoding/binary"
	"fmt"
)

// x86 is a tiny assembler of 64-bit code for the hostile guests
// (hostile_kvm_test.go): only the instructions they use, with labels and
// rel32 branches. Registers are the eight legacy ones, by number.
type x86 struct {
	b      []byte
	labels map[string]int
	fixups []x86Fixup
}

type x86Fixup struct {
	at    int // offset of the rel32
	label string
}

const (
	rAX = 0
	rCX = 1
	rDX = 2
	rBX = 3
	rBP = 5
	rSI = 6
	rDI = 7
)

func newX86() *x86 { return &x86{labels: map[string]int{}} }

func (a *x86) emit(b ...byte) *x86 { a.b = append(a.b, b...); return a }

func (a *x86) imm32(v uint32) *x86 { return a.emit(binary.LittleEndian.AppendUint32(nil, v)...) }

// label defines name at the current position.
func (a *x86) label(name string) *x86 {
	if _, dup := a.labels[name]; dup {
		panic("x86: duplicate label " + name)
	}
	a.labels[name] = len(a.b)
	return a
}

func (a *x86) branch(op []byte, name string) *x86 {
	a.emit(op...)
	a.fixups = append(a.fixups, x86Fixup{len(a.b), name})
	return a.imm32(0)
}

func (a *x86) jmp(l string) *x86 { return a.branch([]byte{0xe9}, l) }
func (a *x86) jz(l string) *x86  { return a.branch([]byte{0x0f, 0x84}, l) }
func (a *x86) jnz(l string) *x86 { return a.branch([]byte{0x0f, 0x85}, l) }
func (a *x86) jb(l string) *x86  { return a.branch([]byte{0x0f, 0x82}, l) }

// code resolves the branches and returns the machine code.
func (a *x86) code() []byte {
	for _, f := range a.fixups {
		to, ok := a.labels[f.label]
		if !ok {
			panic(fmt.Sprintf("x86: undefined label %q", f.label))
		}
		binary.LittleEndian.PutUint32(a.b[f.at:], uint32(int32(to-(f.at+4))))
	}
	return a.b
}

// movImm is "mov r32, imm32" (zero-extends into the 64-bit register).
func (a *x86) movImm(r int, v uint32) *x86 { return a.emit(0xb8 + byte(r)).imm32(v) }

// movReg is "mov dst32, src32".
func (a *x86) movReg(dst, src int) *x86 { return a.emit(0x89, 0xc0|byte(src)<<3|byte(dst)) }

// movDX is "mov dx, port".
func (a *x86) movDX(port uint16) *x86 { return a.emit(0x66, 0xba, byte(port), byte(port>>8)) }

// out writes al, ax or eax (size 1, 2, 4) to port dx.
func (a *x86) out(size int) *x86 {
	switch size {
	case 1:
		return a.emit(0xee)
	case 2:
		return a.emit(0x66, 0xef)
	}
	return a.emit(0xef)
}

// in reads al, ax or eax (size 1, 2, 4) from port dx.
func (a *x86) in(size int) *x86 {
	switch size {
	case 1:
		return a.emit(0xec)
	case 2:
		return a.emit(0x66, 0xed)
	}
	return a.emit(0xed)
}

// alu32 is "op dst32, imm32" for op = 0 (add), 1 (or), 4 (and), 5 (sub),
// 7 (cmp).
func (a *x86) alu32(op, r int, v uint32) *x86 { return a.emit(0x81, 0xc0|byte(op)<<3|byte(r)).imm32(v) }

func (a *x86) addImm(r int, v uint32) *x86 { return a.alu32(0, r, v) }
func (a *x86) orImm(r int, v uint32) *x86  { return a.alu32(1, r, v) }
func (a *x86) andImm(r int, v uint32) *x86 { return a.alu32(4, r, v) }
func (a *x86) subImm(r int, v uint32) *x86 { return a.alu32(5, r, v) }
func (a *x86) cmpImm(r int, v uint32) *x86 { return a.alu32(7, r, v) }

// testImm is "test r32, imm32".
func (a *x86) testImm(r int, v uint32) *x86 { return a.emit(0xf7, 0xc0|byte(r)).imm32(v) }

// shrEAX is "shr eax, n".
func (a *x86) shrEAX(n byte) *x86 { return a.emit(0xc1, 0xe8, n) }

// movRBXImm is "mov rbx, imm64".
func (a *x86) movRBXImm(v uint64) *x86 {
	return a.emit(0x48, 0xbb).emit(binary.LittleEndian.AppendUint64(nil, v)...)
}

// memOp encodes opcode with ModRM [rbx+disp32] and register r; size picks
// the prefix (2: 0x66, 8: REX.W) and, for size 1, the byte opcode.
func (a *x86) memOp(op8, op byte, size int, r int, disp uint32) *x86 {
	switch size {
	case 1:
		op = op8
	case 2:
		a.emit(0x66)
	case 8:
		a.emit(0x48)
	}
	return a.emit(op, 0x83|byte(r)<<3).imm32(disp)
}

// store is "mov [rbx+disp], al/ax/eax/rax".
func (a *x86) store(size int, disp uint32) *x86 { return a.memOp(0x88, 0x89, size, rAX, disp) }

// load is "mov al/ax/eax/rax, [rbx+disp]".
func (a *x86) load(size int, disp uint32) *x86 { return a.memOp(0x8a, 0x8b, size, rAX, disp) }

// storeImm32 is "mov dword [rbx+disp], imm32".
func (a *x86) storeImm32(disp, v uint32) *x86 { return a.emit(0xc7, 0x83).imm32(disp).imm32(v) }

// outCOM1 writes al to COM1.
func (a *x86) outCOM1() *x86 { return a.movDX(com1Port).out(1) }

// powerOff writes SLP_EN | SLP_TYP=S5 to the ACPI sleep control register:
// the run ends with exit 0. The spin after it is never reached.
func (a *x86) powerOff() *x86 {
	a.movDX(acpiPMPort).emit(0xb0, 5<<2|1<<5).out(1)
	return a.emit(0xeb, 0xfe) // jmp $
}

// cfgAddr is a mechanism #1 CONFIG_ADDRESS for bus 0, function 0.
func cfgAddr(slot, reg uint32) uint32 { return 0x80000000 | slot<<11 | reg&0xfc }

// cfgSelect writes CONFIG_ADDRESS for slot's register reg.
func (a *x86) cfgSelect(slot, reg uint32) *x86 {
	return a.movDX(0xcf8).movImm(rAX, cfgAddr(slot, reg)).out(4)
}

// cfgRead reads size bytes at slot's register reg into al/ax/eax.
func (a *x86) cfgRead(slot, reg uint32, size int) *x86 {
	return a.cfgSelect(slot, reg).movDX(0xcfc + uint16(reg&3)).in(size)
}

// cfgWrite writes v (size bytes) at slot's register reg.
func (a *x86) cfgWrite(slot, reg uint32, size int, v uint32) *x86 {
	return a.cfgSelect(slot, reg).movDX(0xcfc+uint16(reg&3)).movImm(rAX, v).out(size)
}

// cfgWriteReg writes register r (4 bytes) at slot's register reg.
func (a *x86) cfgWriteReg(slot, reg uint32, r int) *x86 {
	return a.cfgSelect(slot, reg).movDX(0xcfc).movReg(rAX, r).out(4)
}

// printEAX writes the low n bytes of eax to COM1, low byte first.
func (a *x86) printEAX(n int) *x86 {
	for i := 0; i < n; i++ {
		if i > 0 {
			a.shrEAX(8)
		}
		a.outCOM1()
	}
	return a
}
