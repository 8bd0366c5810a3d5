package machine

import (
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// TestResetStubDisassembles decodes the reset-vector stub as 16-bit code
// (the CPU is in real mode at f000:fff0) and checks it is the i8042 reset
// sequence, and that it fits below 1 MiB.
func TestResetStubDisassembles(t *testing.T) {
	if resetVectorAddr+len(resetStub) > legacyHoleEnd {
		t.Fatalf("stub of %d bytes at %#x runs past 1 MiB", len(resetStub), resetVectorAddr)
	}
	want := []string{"CLI", "MOV AL, 0xfe", "OUT 0x64, AL", "HLT", "JMP .-3"}
	var got []string
	for b := resetStub; len(b) > 0; {
		inst, err := x86asm.Decode(b, 16)
		if err != nil {
			t.Fatalf("decoding % x: %v", b, err)
		}
		got = append(got, inst.String())
		b = b[inst.Len:]
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("stub is %q, want %q", got, want)
	}
}

// TestMPTableStopsBeforeResetVector: the MP table's room ends where the
// reset stub starts.
func TestMPTableStopsBeforeResetVector(t *testing.T) {
	if mptableAddr+mptableMax > resetVectorAddr {
		t.Fatalf("MP table room %#x+%#x overlaps the reset vector %#x", mptableAddr, mptableMax, resetVectorAddr)
	}
}
