//go:build kvm

package machine

import (
	"testing"
	"time"
)

// TestAbsentKeyboardAnswersAtOnce: a raw guest sends ATKBD_CMD_GETID
// (0xF2) to the keyboard through port 0x60 and copies to COM1 the status
// register, the data byte and the status again. With no keyboard plugged
// in, the 8042 answers at once: status 0x55 (bit 0 output buffer full, bit
// 2 system flag, bit 4 keyboard not inhibited, bit 6 time-out), data 0xFE,
// then status 0x14 (buffer empty, time-out gone). Linux's i8042 driver
// takes that as SERIO_TIMEOUT and libps2 as a NAK, so atkbd's probe fails
// at once instead of after its timeouts.
func TestAbsentKeyboardAnswersAtOnce(t *testing.T) {
	var g []byte
	g = append(g, 0xb0, 0xf2, 0xe6, byte(i8042Data)) // mov al, 0xf2; out 0x60, al
	for _, port := range []uint64{i8042Cmd, i8042Data, i8042Cmd} {
		g = append(g, 0xe4, byte(port)) // in al, port
		g = append(g, movDX(com1Port)...)
		g = append(g, 0xee) // out dx, al
	}
	g = append(g, acpiPMGuest(acpiPMPort, 5<<2|1<<5)...)
	res, out, _ := runRaw(t, g, RawUser, 30*time.Second)
	if res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	if want := "\x55\xfe\x14"; out != want {
		t.Fatalf("status, data, status = % x, want % x", out, want)
	}
}
