//go:build kvm

package machine

import (
	"testing"
	"time"
)

// acpiPMGuest returns a CPL-3 guest that writes v to port, then spins.
func acpiPMGuest(port uint16, v byte) []byte {
	return []byte{
		0xb0, v, // mov al, v
		0x66, 0xba, byte(port), byte(port >> 8), // mov dx, port
		0xee,       // out dx, al
		0xeb, 0xfe, // jmp $
	}
}

// TestACPIPMRegisters: the sleep control register with SLP_TYP=S5|SLP_EN
// and the reset register with its reset value each end the run with exit 0
// and their own reason; any other write leaves the guest running.
func TestACPIPMRegisters(t *testing.T) {
	for _, c := range []struct {
		port   uint16
		v      byte
		code   int
		reason string
	}{
		{acpiPMPort, 5<<2 | 1<<5, ExitOK, reasonACPIPowerOff},
		{acpiPMPort + 2, 1, ExitOK, reasonACPIReset},
		{acpiPMPort, 5 << 2, ExitTimeout, "timeout"}, // SLP_EN clear
		{acpiPMPort + 2, 2, ExitTimeout, "timeout"},  // not the reset value
	} {
		res, _, _ := runRaw(t, acpiPMGuest(c.port, c.v), RawUser, 2*time.Second)
		if res.Code != c.code || (c.code == ExitOK && res.Reason != c.reason) {
			t.Errorf("write %#02x to port %#x: %v, want exit %d (%s)", c.v, c.port, res, c.code, c.reason)
		}
	}
}
