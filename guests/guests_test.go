package guests

import (
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// disasm decodes code up to limit bytes and returns one line per instruction.
func disasm(t *testing.T, code []byte, mode int) []string {
	t.Helper()
	var out []string
	for len(code) > 0 {
		inst, err := x86asm.Decode(code, mode)
		if err != nil {
			t.Fatalf("decode % x: %v", code[:min(4, len(code))], err)
		}
		out = append(out, x86asm.IntelSyntax(inst, 0, nil))
		code = code[inst.Len:]
	}
	return out
}

// The listings in guests.go must match the bytes: decode them with an
// independent disassembler and compare with the documented instructions.
// x86asm prints a relative branch as its displacement from the end of the
// instruction (".-0x2" is jmp $ for a 2-byte jmp).
func TestListingsMatchBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		code []byte
		mode int
		want []string
	}{
		{"Hello", Hello[:0x23], 64, []string{
			"lea rsi, ptr [rip+0x1c]", "mov ecx, 0x30", "mov dx, 0x3f8", "rep outsb",
			"mov ax, cs", "and al, 0x3", "add al, 0x30", "out dx, al", "mov al, 0xa", "out dx, al",
			"mov al, 0xfe", "out 0x64, al", "jmp .-0x2",
		}},
		{"RealMode", RealMode[:0x16], 16, []string{
			"push cs", "pop ds", "mov si, 0x16", "mov cx, 0x15", "mov dx, 0x3f8", "cld",
			"lodsb byte ptr [si]", "out dx, al", "loop .-0x4", "mov al, 0xfe", "out 0x64, al", "jmp .-0x2",
		}},
		{"PIOLoop", PIOLoop(7), 64, []string{
			"mov ecx, 0x7", "mov dx, 0x510", "out dx, al", "dec ecx", "jnz .-0x5",
			"mov al, 0xfe", "out 0x64, al", "jmp .-0x2",
		}},
		{"CountDown", CountDown(9), 64, []string{
			"mov ecx, 0x9", "dec ecx", "jnz .-0x4", "mov al, 0xfe", "out 0x64, al", "jmp .-0x2",
		}},
		{"TripleFault", TripleFault, 64, []string{"ud2"}},
		{"Spin", Spin, 64, []string{"jmp .-0x2"}},
		{"HaltForever", HaltForever, 64, []string{"cli", "hlt", "jmp .-0x3"}},
	} {
		got := disasm(t, c.code, c.mode)
		if strings.Join(got, "; ") != strings.Join(c.want, "; ") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestMessagesAndOffsets(t *testing.T) {
	// lea rsi, [rip+0x1c] is 7 bytes long: msg = 7 + 0x1c = 0x23.
	if got := string(Hello[0x23:]); got != HelloGreeting || len(got) != 0x30 {
		t.Fatalf("Hello message %q (len %d)", got, len(got))
	}
	if got := string(RealMode[0x16:]); got != "hello from real mode\n" || len(got) != 0x15 {
		t.Fatalf("RealMode message %q", got)
	}
}
