package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/govmm/govmm/guestinit"
	"github.com/govmm/govmm/machine"
)

// tinyELF writes a 64-byte ELF header (x86-64 unless machine says
// otherwise) with no program headers, or with one PT_INTERP when interp.
func tinyELF(t *testing.T, machineType uint16, interp bool) string {
	t.Helper()
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2) // ET_EXEC
	le.PutUint16(b[18:], machineType)
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], 0x401000)
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[58:], 64)
	if interp {
		le.PutUint64(b[32:], 64) // e_phoff
		le.PutUint16(b[56:], 1)  // e_phnum
		ph := make([]byte, 56)
		le.PutUint32(ph[0:], 3) // PT_INTERP
		b = append(b, ph...)
	}
	p := filepath.Join(t.TempDir(), "elf")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStaticELF(t *testing.T) {
	if _, err := staticELF(tinyELF(t, 62, false)); err != nil {
		t.Errorf("static x86-64 ELF refused: %v", err)
	}
	for name, c := range map[string]struct {
		path, want string
	}{
		"dynamic":   {tinyELF(t, 62, true), "dynamically linked"},
		"arm64":     {tinyELF(t, 183, false), "not x86-64"},
		"not ELF":   {"/etc/passwd", "not an ELF"},
		"missing":   {"/nonexistent/govmm", "no such file"},
		"directory": {t.TempDir(), "directory"},
	} {
		_, err := staticELF(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}

func TestParseShare(t *testing.T) {
	for _, c := range []struct {
		v    string
		n    int
		want machine.Share
	}{
		{"/src", 0, machine.Share{Dir: "/src", Tag: "share0"}},
		{"/src,ro", 3, machine.Share{Dir: "/src", Tag: "share3", ReadOnly: true}},
		{"/src,tag=root,ro", 1, machine.Share{Dir: "/src", Tag: "root", ReadOnly: true}},
		{"/src,ro,tag=/dev/root", 0, machine.Share{Dir: "/src", Tag: "/dev/root", ReadOnly: true}},
	} {
		got, err := parseShare(c.v, c.n)
		if err != nil || got != c.want {
			t.Errorf("parseShare(%q, %d) = %+v, %v; want %+v", c.v, c.n, got, err, c.want)
		}
	}
	for _, v := range []string{"", ",ro", "/src,rw", "/src,tag=", "/src,tag=" + strings.Repeat("x", 32), "/src,tag=a\x00b", "/src,,ro"} {
		if _, err := parseShare(v, 0); err == nil {
			t.Errorf("parseShare(%q) accepted", v)
		}
	}
}

func TestGuestDir(t *testing.T) {
	for _, c := range []struct {
		wd, rootfs string
		rw         []string
		want       string
	}{
		{"/home/k/linux", "/", nil, "/home/k/linux"},
		{"/", "/", nil, "/"},
		{"/srv/root/usr/src", "/srv/root", nil, "/usr/src"},
		{"/srv/root", "/srv/root", nil, "/"},
		{"/home/k/out/x", "/srv/root", []string{"/home/k/out"}, "/home/k/out/x"},
		{"/home/k/out", "/srv/root", []string{"/data", "/home/k/out"}, "/home/k/out"},
	} {
		got, err := guestDir(c.wd, c.rootfs, c.rw)
		if err != nil || got != c.want {
			t.Errorf("guestDir(%q, %q, %q) = %q, %v; want %q", c.wd, c.rootfs, c.rw, got, err, c.want)
		}
	}
	for _, c := range []struct {
		wd, rootfs string
		rw         []string
	}{
		{"/home/k", "/srv/root", nil},
		{"/srv/rootfs", "/srv/root", nil}, // a sibling that shares a prefix
		{"/home/k/outside", "/srv/root", []string{"/home/k/out"}},
	} {
		if got, err := guestDir(c.wd, c.rootfs, c.rw); err == nil || !strings.Contains(err.Error(), "not visible") {
			t.Errorf("guestDir(%q, %q, %q) = %q, %v; want not visible", c.wd, c.rootfs, c.rw, got, err)
		}
	}
}

func TestExecCmdline(t *testing.T) {
	if got := execCmdline("", false); got != "console=ttyS0 panic=-1 rdinit=/init retain_initrd quiet" {
		t.Errorf("default: %q", got)
	}
	if got := execCmdline(" loglevel=7 ", true); got != "console=ttyS0 panic=-1 rdinit=/init retain_initrd loglevel=7" {
		t.Errorf("-v with -append: %q", got)
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(16)
	for i := 0; i < 100; i++ {
		b.Write([]byte{'a' + byte(i%26)})
	}
	if len(b.b) > 32 {
		t.Errorf("buffer grew to %d bytes for a limit of 16", len(b.b))
	}
	b = newTailBuffer(1 << 10)
	io.WriteString(b, "one\r\ntwo\r\nthree\r\n")
	if got := b.tail(2); got != "two\nthree" {
		t.Errorf("tail(2) = %q", got)
	}
}

// frames encodes guest frames.
func frames(fs ...guestinit.Frame) []byte {
	var b []byte
	for _, f := range fs {
		b = guestinit.AppendFrame(b, f.Type, f.Payload)
	}
	return b
}

func TestExecSessionOutcome(t *testing.T) {
	ready := guestinit.Frame{Type: guestinit.FrameReady, Payload: []byte(guestinit.ProtocolVersion)}
	ok := machine.Result{Code: 0, Reason: "guest powered off (ACPI S5)"}
	for _, c := range []struct {
		name        string
		stream      []byte
		res         machine.Result
		code        int
		out, errOut string
	}{
		{"exit status", frames(ready,
			guestinit.Frame{Type: guestinit.FrameStdout, Payload: []byte("6.1.0\n")},
			guestinit.Frame{Type: guestinit.FrameStderr, Payload: []byte("warn\n")},
			guestinit.Frame{Type: guestinit.FrameStdout, Payload: []byte("a\r\nb")},
			guestinit.Frame{Type: guestinit.FrameExit, Payload: guestinit.ExitPayload(7)}),
			ok, 7, "6.1.0\na\r\nb", "warn\n"},
		{"no exit status", frames(ready), ok, 1, "", "without the command's exit status"},
		{"guest error", frames(ready, guestinit.Frame{Type: guestinit.FrameError, Payload: []byte("the working directory /x is not visible in the guest")}),
			ok, 1, "", "govmm exec: the working directory /x is not visible"},
		{"broken channel", append(frames(ready), 42, 0, 0, 0, 0), ok, 1, "", "the guest's channel"},
		{"wrong version", frames(guestinit.Frame{Type: guestinit.FrameReady, Payload: []byte("govmm-exec/0")}), ok, 1, "", "speaks"},
		{"kernel panic wins", frames(ready, guestinit.Frame{Type: guestinit.FrameExit, Payload: guestinit.ExitPayload(0)}),
			machine.Result{Code: 3, Reason: "guest kernel panic"}, 3, "", "kernel's console"},
		{"timeout", frames(ready), machine.Result{Code: 124}, 124, "", "kernel's console"},
	} {
		var out, errOut bytes.Buffer
		s := newExecSession(&out, &errOut)
		io.WriteString(s.klog, "[    0.1] Kernel panic - not syncing\r\n")
		for i := 0; i < len(c.stream); i += 3 { // in pieces, as the console delivers
			s.Write(c.stream[i:min(i+3, len(c.stream))])
		}
		code := s.outcome(c.res, c.res.Code, false)
		if code != c.code || out.String() != c.out || !strings.Contains(errOut.String(), c.errOut) {
			t.Errorf("%s: exit %d stdout %q stderr %q; want %d, %q, stderr with %q", c.name, code, out.String(), errOut.String(), c.code, c.out, c.errOut)
		}
	}
}

// TestExecSessionFeedRetriesAndKeepsOrder feeds stdin through a console
// whose backlog takes a few bytes at a time and is often full: every byte
// arrives, in order, followed by the EOF frame.
func TestExecSessionFeedRetriesAndKeepsOrder(t *testing.T) {
	s := newExecSession(io.Discard, io.Discard)
	s.Write(frames(guestinit.Frame{Type: guestinit.FrameReady, Payload: []byte(guestinit.ProtocolVersion)}))
	var mu sync.Mutex
	var got []byte
	calls := 0
	input := func(p []byte) int {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls%3 == 0 { // full
			return 0
		}
		n := min(len(p), 1000)
		got = append(got, p[:n]...)
		return n
	}
	data := bytes.Repeat([]byte("stdin data\x00\xff\n"), 20000)
	s.feed(bytes.NewReader(data), input)
	var in []byte
	eof := false
	r := bytes.NewReader(got)
	for {
		f, err := guestinit.ReadFrame(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if eof {
			t.Fatal("a frame after stdin EOF")
		}
		switch f.Type {
		case guestinit.FrameStdin:
			in = append(in, f.Payload...)
		case guestinit.FrameStdinEOF:
			eof = true
		}
	}
	if !bytes.Equal(in, data) || !eof {
		t.Errorf("the guest got %d bytes (eof %v), want %d and EOF", len(in), eof, len(data))
	}

	// Nothing is sent before FrameReady, and a stopped run ends feed.
	s = newExecSession(io.Discard, io.Discard)
	close(s.stop)
	s.feed(strings.NewReader("x"), func(p []byte) int { t.Error("input before ready"); return len(p) })
}
