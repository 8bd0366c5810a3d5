//go:build kvm

package machine

import (
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/kvm"
)

// movDX is "mov dx, port".
func movDX(port uint64) []byte { return []byte{0x66, 0xba, byte(port), byte(port >> 8)} }

// absentPortsGuest returns a CPL-3 guest that reads every port of
// absentPorts and copies each byte to COM1, then writes every one of them
// with a byte, and the first port of each range with a word and a
// doubleword too, then writes one byte to port 0x81, which has no device
// and is not absorbed, and powers off.
func absentPortsGuest() []byte {
	var g []byte
	for _, r := range absentPorts {
		for p := r.base; p < r.base+r.size; p++ {
			g = append(g, movDX(p)...)
			g = append(g, 0xec) // in al, dx
			g = append(g, movDX(com1Port)...)
			g = append(g, 0xee) // out dx, al
		}
	}
	g = append(g, 0xb8, 0x78, 0x56, 0x34, 0x12) // mov eax, 0x12345678
	for _, r := range absentPorts {
		for p := r.base; p < r.base+r.size; p++ {
			g = append(g, movDX(p)...)
			g = append(g, 0xee) // out dx, al
		}
		g = append(g, movDX(r.base)...)
		g = append(g, 0x66, 0xef, 0xef) // out dx, ax; out dx, eax
	}
	g = append(g, movDX(0x81)...)
	g = append(g, 0xee) // out dx, al
	return append(g, acpiPMGuest(acpiPMPort, 5<<2|1<<5)...)
}

// TestAbsentPortsReadOnesAndAbsorbWrites: every absent port reads 0xFF, as
// a port without a device always did, and no write to one reaches govmm:
// the only port exits are the reads, the console bytes, the write to the
// unabsorbed port 0x81 and the power-off.
func TestAbsentPortsReadOnesAndAbsorbWrites(t *testing.T) {
	res, out, m := runRaw(t, absentPortsGuest(), RawUser, 30*time.Second)
	if res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	ports := 0
	for _, r := range absentPorts {
		ports += int(r.size)
	}
	if want := strings.Repeat("\xff", ports); out != want {
		t.Fatalf("reads gave %x, want %d bytes of ff", out, ports)
	}
	for _, br := range m.pio.ranges {
		for _, r := range absentPorts {
			if br.name == r.name && br.accesses.Load() != r.size {
				t.Errorf("%s: %d accesses reached govmm, want its %d reads", r.name, br.accesses.Load(), r.size)
			}
		}
	}
	if n := m.pio.unknownWrites.Load(); n != 1 {
		t.Errorf("%d writes to ports without a device reached govmm, want 1 (port 0x81)", n)
	}
	if n := m.pio.unknownReads.Load(); n != 0 {
		t.Errorf("%d unknown reads, want 0", n)
	}
	// With coalesced port I/O (coalesce.go) the console bytes do not exit.
	consoleExits := ports
	if m.coalesce != nil {
		consoleExits = 0
	}
	if n, want := m.vcpus[0].stats.count[kvm.ExitIO], uint64(ports+consoleExits+2); n != want {
		t.Errorf("%d port I/O exits, want %d (%d reads, %d console bytes, port 0x81, power-off)", n, want, ports, consoleExits)
	}
}
