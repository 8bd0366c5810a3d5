package i8042

import "testing"

// linuxCommand mirrors __i8042_command in Linux's i8042.c: the command
// word's bits 12-15 give the number of parameter bytes sent and bits 8-11
// the number of response bytes read, each after polling status the way
// i8042_wait_write and i8042_wait_read do. It fails the test where Linux
// would time out.
func linuxCommand(t *testing.T, h *harness, param []byte, command int) {
	t.Helper()
	const maxPolls = 10000 // I8042_CTL_TIMEOUT
	waitWrite := func() {
		for i := 0; h.status()&stIBF != 0; i++ {
			if i == maxPolls {
				t.Fatalf("command %#04x: input buffer stuck full", command)
			}
		}
	}
	waitWrite()
	h.command(byte(command))
	nSend, nRecv := command>>12&0xf, command>>8&0xf
	for i := 0; i < nSend; i++ {
		waitWrite()
		h.writeData(param[i])
	}
	for i := 0; i < nRecv; i++ {
		for j := 0; h.status()&stOBF == 0; j++ {
			if j == maxPolls {
				t.Fatalf("command %#04x: timed out waiting for response %d", command, i)
			}
		}
		param[i] = h.readData()
	}
}

// The start of Linux's i8042 probe (i8042_controller_check, _selftest,
// _init, i8042_check_mux, i8042_check_aux): every step completes without a
// timeout and sees a plain, non-multiplexing controller with an AUX port.
func TestLinuxProbe(t *testing.T) {
	h := newHarness(t)
	flush := func() {
		for i := 0; h.status()&stOBF != 0; i++ {
			if i == 16 { // I8042_BUFFER_SIZE
				t.Fatal("flush: output buffer never empties")
			}
			h.readData()
		}
	}
	p := make([]byte, 2)
	flush()

	linuxCommand(t, h, p, 0x01aa) // I8042_CMD_CTL_TEST
	if p[0] != 0x55 {
		t.Fatalf("self test = %#02x", p[0])
	}

	var ctr [2]byte
	linuxCommand(t, h, ctr[0:], 0x0120) // I8042_CMD_CTL_RCTR
	linuxCommand(t, h, ctr[1:], 0x0120)
	if ctr[0] != ctr[1] {
		t.Fatalf("unstable CTR %#02x %#02x", ctr[0], ctr[1])
	}
	c := ctr[0]&^ctrKbdInt | ctrKbdDis
	p[0] = c
	linuxCommand(t, h, p, 0x1060) // I8042_CMD_CTL_WCTR
	flush()

	// i8042_set_mux_mode: echo 0xf0, 0x56, then 0xa4. A controller that
	// echoes 0xa4 unchanged is not a MUX controller.
	for _, v := range []byte{0xf0, 0x56, 0xa4} {
		p[0] = v
		linuxCommand(t, h, p, 0x11d3) // I8042_CMD_AUX_LOOP
		if p[0] != v {
			t.Fatalf("AUX_LOOP %#02x echoed %#02x", v, p[0])
		}
	}

	// i8042_check_aux: loop test, then the AUXDIS bit assignment test.
	p[0] = 0x5a
	linuxCommand(t, h, p, 0x11d3)
	if p[0] != 0x5a {
		t.Fatalf("AUX_LOOP echoed %#02x", p[0])
	}
	linuxCommand(t, h, p, 0x00a7) // I8042_CMD_AUX_DISABLE
	linuxCommand(t, h, p, 0x0120)
	if p[0]&ctrAuxDis == 0 {
		t.Errorf("CTR %#02x: AUX disable did not set AUXDIS", p[0])
	}
	linuxCommand(t, h, p, 0x00a8) // I8042_CMD_AUX_ENABLE
	linuxCommand(t, h, p, 0x0120)
	if p[0]&ctrAuxDis != 0 {
		t.Errorf("CTR %#02x: AUX enable did not clear AUXDIS", p[0])
	}
	linuxCommand(t, h, p, 0x01ab) // I8042_CMD_KBD_TEST
	if p[0] != 0x00 {
		t.Errorf("keyboard test = %#02x", p[0])
	}

	// machine_restart with reboot=k: wait for IBF clear, write 0xfe.
	linuxCommand(t, h, p, 0x00fe)
	if h.resets != 1 {
		t.Errorf("resets = %d, want 1", h.resets)
	}
}
