package console

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the master and slave ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open slave: %v", err)
	}
	return m, s
}

func lflag(t *testing.T, f *os.File) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag
}

// On a terminal Start switches to raw mode (no line editing, no echo, no
// signals: Ctrl-C goes to the guest) and restore switches back.
func TestTerminalRawMode(t *testing.T) {
	master, slave := openPTY(t)
	defer master.Close()
	defer slave.Close()
	const cooked = unix.ICANON | unix.ECHO | unix.ISIG
	before := lflag(t, slave)
	if before&cooked != cooked {
		t.Skipf("pty not in cooked mode to begin with: lflag %#x", before)
	}
	rec := &recorder{}
	restore, finished, err := start(slave, rec.sink, rec.quit)
	if err != nil {
		t.Fatal(err)
	}
	if got := lflag(t, slave); got&cooked != 0 {
		t.Errorf("raw mode lflag %#x still has ICANON/ECHO/ISIG", got)
	}
	// Without ICANON bytes arrive without a newline; ISIG off passes ^C.
	master.Write([]byte("ab\x03\x01x"))
	deadline := 0
	for rec.String() != "ab\x03<quit>" && deadline < 500 {
		deadline++
		sleepMs(10)
	}
	if got := rec.String(); got != "ab\x03<quit>" {
		t.Errorf("delivered %q", got)
	}
	restore()
	restore()
	if got := lflag(t, slave); got != before {
		t.Errorf("restored lflag %#x, want %#x", got, before)
	}
	master.Close() // the blocked read on the slave now fails
	waitClosed(t, finished, "pty hang-up")
}
