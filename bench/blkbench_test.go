package bench

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestBlkParamsRoundTrip(t *testing.T) {
	p := BlkParams{Mode: BlkModeRead, Count: 256 << 20, ReqBytes: 1 << 20, Inflight: 8, BufBase: 2 << 20, Stamp: StampXor}
	b := p.Encode()
	if len(b) != ParamsLen() || binary.LittleEndian.Uint32(b) != paramsMagic {
		t.Fatalf("block % x", b)
	}
	// The guest's answers, as it would write them.
	le := binary.LittleEndian
	le.PutUint32(b[0x28:], 8)
	le.PutUint32(b[0x2c:], 7)
	le.PutUint64(b[0x30:], 1<<20)
	le.PutUint64(b[0x38:], 1)
	le.PutUint64(b[0x40:], 256)
	le.PutUint64(b[0x48:], 0xc0004000)
	le.PutUint64(b[0x50:], 0xc0007000)
	le.PutUint32(b[0x58:], 256)
	r, err := DecodeBlkResult(b)
	if err != nil {
		t.Fatal(err)
	}
	want := BlkResult{Error: 8, Detail: 7, Bytes: 1 << 20, Requests: 1, Pages: 256, BAR0: 0xc0004000, Notify: 0xc0007000, QueueSize: 256}
	if r != want {
		t.Fatalf("%+v", r)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "data stamp mismatch") {
		t.Fatalf("Err %v", err)
	}
	if _, err := DecodeBlkResult(b[:10]); err == nil {
		t.Fatal("short block accepted")
	}
}

// TestParamsLayoutMatchesC compiles a host program against params.h and
// compares its offsets with the ones Encode and DecodeBlkResult use.
func TestParamsLayoutMatchesC(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("SKIP: needs gcc")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "off.c")
	prog := `#include <stddef.h>
#include <stdio.h>
#include "params.h"
#define F(f) printf("%s %zu\n", #f, offsetof(struct params, f))
int main(void) {
	F(magic); F(mode); F(count); F(req_bytes); F(inflight); F(buf_base); F(stamp_xor);
	F(error); F(detail); F(bytes); F(requests); F(pages); F(bar0); F(notify); F(qsize);
	printf("size %zu\nmagicval %u\naddr %u\nport %u\nread %d\nkick %d\nidle %d\n", sizeof(struct params),
	       PARAMS_MAGIC, PARAMS_ADDR, MARK_PORT, MODE_READ, MODE_KICK, MODE_KICK_IDLE);
	return 0;
}
`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	inc := filepath.Join("..", "testdata", "guests", "blkbench")
	bin := filepath.Join(dir, "off")
	if out, err := exec.Command("gcc", "-I", inc, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(l)
		}
		got[k] = n
	}
	want := map[string]uint64{
		"magic": 0x00, "mode": 0x04, "count": 0x08, "req_bytes": 0x10, "inflight": 0x14, "buf_base": 0x18,
		"stamp_xor": 0x20, "error": 0x28, "detail": 0x2c, "bytes": 0x30, "requests": 0x38, "pages": 0x40,
		"bar0": 0x48, "notify": 0x50, "qsize": 0x58, "size": paramsLen,
		"magicval": paramsMagic, "addr": ParamsAddr, "port": MarkPort,
		"read": BlkModeRead, "kick": BlkModeKick, "idle": BlkModeKickIdle,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: C says %#x (printed %v), Go uses %#x", k, g, ok, v)
		}
	}
}

func TestMarks(t *testing.T) {
	var m Marks
	w := func(v uint32) {
		b := make([]byte, 4)
		binary.LittleEndian.PutUint32(b, v)
		m.Write(0, b)
	}
	if _, err := m.Elapsed(); err == nil {
		t.Fatal("no marks accepted")
	}
	w(markStart)
	w(markEnd)
	if d, err := m.Elapsed(); err != nil || d < 0 {
		t.Fatalf("%v %v", d, err)
	}
	var f Marks
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, markFail|8)
	f.Write(0, b)
	if _, err := f.Elapsed(); err == nil || !strings.Contains(err.Error(), "data stamp mismatch") {
		t.Fatalf("failure mark: %v", err)
	}
	var o Marks
	o.Write(0, []byte{1}) // a byte write is no mark
	if _, err := o.Elapsed(); err == nil {
		t.Fatal("stray write accepted")
	}
	r := []byte{9, 9, 9, 9}
	o.Read(0, r)
	if binary.LittleEndian.Uint32(r) != 0 {
		t.Fatal("port does not read zero")
	}
}

func TestMakeDisk(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.img")
	const size = 3<<20 + 8192
	if err := MakeDisk(p, size); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size {
		t.Fatalf("%d bytes", len(b))
	}
	for off := 0; off < size; off += 4096 {
		if got := binary.LittleEndian.Uint64(b[off:]); got != uint64(off)^StampXor {
			t.Fatalf("page at %#x stamped %#x", off, got)
		}
	}
	// Not all the same: the filler is random.
	if string(b[8:16]) == string(b[4096+8:4096+16]) {
		t.Fatal("filler repeats per page")
	}
	if err := MakeDisk(p, 1000); err == nil {
		t.Fatal("size not a multiple of 4096 accepted")
	}
}
