package virtio_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/share"
)

const helloText = "hello from the host"

type ninePEnv struct {
	*virtiotest.Env
	q   *virtiotest.SplitQueue
	dir string
}

func startNineP(t *testing.T, readOnly bool) *ninePEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(helloText), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := share.New(dir, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := virtio.NewNineP("hostshare", s)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dev)
	q := e.NewQueue(64)
	if err := e.Start(fVersion1|fEventIdx|1, q); err != nil {
		t.Fatal(err)
	}
	return &ninePEnv{Env: e, q: q, dir: dir}
}

// rpc sends one T-message in a readable buffer with a writable buffer of
// n bytes and returns what the device wrote.
func (p *ninePEnv) rpc(t *testing.T, tmsg []byte, n uint32) []byte {
	t.Helper()
	in := p.Buf(uint64(len(tmsg)), 0)
	p.Mem.Write(in, tmsg)
	out := p.Buf(uint64(n), 0xEE)
	p.q.AddChain(virtiotest.Buffer{Addr: in, Len: uint32(len(tmsg))}, virtiotest.Buffer{Addr: out, Len: n, Write: true})
	u, err := p.Submit(0, p.q)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len > n {
		t.Fatalf("used length %d > %d writable", u.Len, n)
	}
	r := p.Bytes(out, uint64(u.Len))
	if size, _, _ := reply(r); size != u.Len {
		t.Fatalf("reply size field %d, used length %d: % x", size, u.Len, r)
	}
	return r
}

// session does Tversion and Tattach (fid 0).
func (p *ninePEnv) session(t *testing.T) {
	t.Helper()
	p.rpc(t, tversion(8192), 8192)
	if r := p.rpc(t, tattach(1, 0), 8192); r[4] != 105 {
		t.Fatalf("Tattach: % x", r)
	}
}

func TestNinePConfigAndFeatures(t *testing.T) {
	p := startNineP(t, false)
	if id := p.D.CfgRead(2, 2); id != 0x1040+9 {
		t.Errorf("PCI device ID %#x, want 0x1049 (0x1040 + 9)", id)
	}
	if f := p.D.DeviceFeatures(); f&1 == 0 {
		t.Errorf("features %#x lack VIRTIO_9P_MOUNT_TAG", f)
	}
	// struct virtio_9p_config { le16 tag_len; u8 tag[tag_len]; }
	if n := p.D.Read(p.D.DeviceCfg, 2); n != 9 {
		t.Errorf("tag_len %d", n)
	}
	var tag []byte
	for i := uint64(0); i < 9; i++ {
		tag = append(tag, byte(p.D.Read(p.D.DeviceCfg+2+i, 1)))
	}
	if string(tag) != "hostshare" {
		t.Errorf("tag %q", tag)
	}
}

func TestNinePTagChecks(t *testing.T) {
	s, err := share.New(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tag := range []string{"", "a\x00b", string(bytes.Repeat([]byte("t"), 32))} {
		if _, err := virtio.NewNineP(tag, s); err == nil {
			t.Errorf("tag %q accepted", tag)
		}
	}
	if _, err := virtio.NewNineP(string(bytes.Repeat([]byte("t"), 31)), s); err != nil {
		t.Error(err)
	}
}

// Tversion, Tattach, Twalk, Tlopen, Tread, checked byte by byte.
func TestNinePRoundTrip(t *testing.T) {
	p := startNineP(t, false)
	// Rversion: size[4]=21 type=101 tag=NOTAG msize[4] version[s].
	want := []byte{21, 0, 0, 0, 101, 0xFF, 0xFF, 0, 0x20, 0, 0, 8, 0, '9', 'P', '2', '0', '0', '0', '.', 'L'}
	if r := p.rpc(t, tversion(8192), 8192); !bytes.Equal(r, want) {
		t.Fatalf("Rversion % x, want % x", r, want)
	}
	// A larger msize is capped at 512 KiB.
	if r := p.rpc(t, tversion(4<<20), 8192); binary.LittleEndian.Uint32(r[7:]) != 512<<10 {
		t.Errorf("msize %d", binary.LittleEndian.Uint32(r[7:]))
	}
	// Rattach: size 20 type 105 tag qid[13] (type 0x80: directory).
	r := p.rpc(t, tattach(1, 0), 8192)
	if size, typ, tag := reply(r); size != 20 || typ != 105 || tag != 1 || r[7] != 0x80 {
		t.Fatalf("Rattach % x", r)
	}
	// Rwalk: size 22 type 111 tag nwqid[2]=1 qid[13] (type 0: file).
	r = p.rpc(t, twalk(2, 0, 1, "hello.txt"), 8192)
	if size, typ, tag := reply(r); size != 22 || typ != 111 || tag != 2 || binary.LittleEndian.Uint16(r[7:]) != 1 || r[9] != 0 {
		t.Fatalf("Rwalk % x", r)
	}
	fi, err := os.Stat(filepath.Join(p.dir, "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if path := binary.LittleEndian.Uint64(r[14:]); path&(1<<48-1) != inodeOf(fi) {
		t.Errorf("qid path %#x, inode %#x", path, inodeOf(fi))
	}
	// Rlopen: size 24 type 13 tag qid[13] iounit[4].
	r = p.rpc(t, tlopen(3, 1, 0), 8192)
	if size, typ, tag := reply(r); size != 24 || typ != 13 || tag != 3 {
		t.Fatalf("Rlopen % x", r)
	}
	// Rread: size type=117 tag count[4] data[count].
	r = p.rpc(t, tread(4, 1, 0, 100), 8192)
	if size, typ, tag := reply(r); size != uint32(11+len(helloText)) || typ != 117 || tag != 4 ||
		binary.LittleEndian.Uint32(r[7:]) != uint32(len(helloText)) || string(r[11:]) != helloText {
		t.Fatalf("Rread % x", r)
	}
	// As Linux's zero-copy read lays it out: the 11-byte header in one
	// buffer, the data in another.
	in := p.Buf(23, 0)
	p.Mem.Write(in, tread(5, 1, 6, 4))
	hdr, data := p.Buf(11, 0), p.Buf(4, 0)
	p.q.AddChain(virtiotest.Buffer{Addr: in, Len: 23}, virtiotest.Buffer{Addr: hdr, Len: 11, Write: true}, virtiotest.Buffer{Addr: data, Len: 4, Write: true})
	u, err := p.Submit(0, p.q)
	if err != nil || u.Len != 15 || string(p.Bytes(data, 4)) != "from" {
		t.Fatalf("split read: %+v %v %q", u, err, p.Bytes(data, 4))
	}
	// Tgetlock is answered by the device: Rgetlock type UNLCK (2), the
	// rest echoed.
	r = p.rpc(t, tgetlock(6, 1), 8192)
	if _, typ, tag := reply(r); typ != 55 || tag != 6 || r[7] != 2 || binary.LittleEndian.Uint64(r[8:]) != 10 || string(r[30:]) != "guest" {
		t.Fatalf("Rgetlock % x", r)
	}
}

func TestNinePReadOnly(t *testing.T) {
	p := startNineP(t, true)
	p.session(t)
	if e := rlerror(p.rpc(t, tlcreate(2, 0, "new"), 8192)); e != 30 {
		t.Errorf("Tlcreate on a read-only share: ecode %d, want EROFS (30)", e)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "new")); err == nil {
		t.Error("file created")
	}
}

// Guest lengths that do not fit: answered with Rlerror, or the queue
// breaks when not even Rlerror fits; never a panic.
func TestNinePBadLengths(t *testing.T) {
	p := startNineP(t, false)
	// The reply (Rversion, 21 bytes) does not fit 11 writable bytes.
	if e := rlerror(p.rpc(t, tversion(8192), 11)); e != 90 {
		t.Errorf("short reply buffer: ecode %d, want EMSGSIZE (90)", e)
	}
	// size field larger than the readable part, smaller than a header.
	huge := tversion(8192)
	binary.LittleEndian.PutUint32(huge, 0xFFFFFFFF)
	if e := rlerror(p.rpc(t, huge, 64)); e != 22 {
		t.Errorf("size 0xFFFFFFFF: ecode %d, want EINVAL", e)
	}
	tiny := tversion(8192)
	binary.LittleEndian.PutUint32(tiny, 3)
	if e := rlerror(p.rpc(t, tiny, 64)); e != 22 {
		t.Errorf("size 3: ecode %d, want EINVAL", e)
	}
	// A message above the agreed msize.
	p.rpc(t, tversion(8192), 64)
	big := msg(116, 9).u32(0).u64(0).u32(0)
	big = append(big, make([]byte, 9000)...)
	if e := rlerror(p.rpc(t, wire(big).done(), 64)); e != 90 {
		t.Errorf("message above msize: ecode %d, want EMSGSIZE", e)
	}
	// Fields missing: Twalk announcing 5 names with none.
	if e := rlerror(p.rpc(t, msg(110, 3).u32(0).u32(1).u16(5).done(), 64)); e != 22 {
		t.Errorf("truncated Twalk: ecode %d, want EINVAL", e)
	}
	// Twrite whose count disagrees with its data.
	if e := rlerror(p.rpc(t, msg(118, 4).u32(0).u64(0).u32(100).str("x").done(), 64)); e != 22 {
		t.Errorf("Twrite count mismatch: ecode %d, want EINVAL", e)
	}
	// A type the server does not serve (an R-message, say).
	if e := rlerror(p.rpc(t, msg(101, 5).u32(8192).str("9P2000.L").done(), 64)); e != 95 {
		t.Errorf("Rversion sent as a request: ecode %d, want EOPNOTSUPP", e)
	}
	// The device still works.
	p.session(t)
	if r := p.rpc(t, tgetattr(7, 0), 8192); r[4] != 25 {
		t.Fatalf("Tgetattr after errors: % x", r)
	}
}

// A chain whose writable part cannot hold even Rlerror breaks the queue.
func TestNinePNoRoomForRlerror(t *testing.T) {
	p := startNineP(t, false)
	in := p.Buf(64, 0)
	p.Mem.Write(in, tversion(8192))
	out := p.Buf(10, 0)
	p.q.AddChain(virtiotest.Buffer{Addr: in, Len: 21}, virtiotest.Buffer{Addr: out, Len: 10, Write: true})
	p.D.Kick(0)
	if err := p.WaitConfig(); err != nil {
		t.Fatal(err)
	}
	if p.D.Status()&virtio.StatusNeedsReset == 0 {
		t.Fatal("NEEDS_RESET not set")
	}
}

// Reset ends the server connection promptly; the device serves a new one.
func TestNinePReset(t *testing.T) {
	p := startNineP(t, false)
	p.session(t)
	p.rpc(t, twalk(2, 0, 1, "hello.txt"), 8192)
	p.rpc(t, tlopen(3, 1, 0), 8192)
	start := time.Now()
	if err := p.D.Reset(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("reset took %v", d)
	}
	p.q = p.NewQueue(64)
	if err := p.Start(fVersion1|1, p.q); err != nil {
		t.Fatal(err)
	}
	p.session(t)
	// fid 1 belonged to the old connection.
	if e := rlerror(p.rpc(t, tread(4, 1, 0, 10), 8192)); e != 9 {
		t.Errorf("old fid after reset: ecode %d, want EBADF", e)
	}
}

func inodeOf(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }

// Txattrwalk: type 30, fid[4] newfid[4] name[s].
func txattrwalk(tag uint16, fid, newfid uint32, name string) []byte {
	return msg(30, tag).u32(fid).u32(newfid).str(name).done()
}

// A missing extended attribute is ENODATA, as overlayfs needs of a 9p
// lower layer (p9's server would say EINVAL); listing them is not
// supported (EOPNOTSUPP, which overlayfs's copy-up skips, where EINVAL
// would fail it). Neither makes a fid, and the fid asked stays usable.
func TestNinePXattrMissingIsENODATA(t *testing.T) {
	p := startNineP(t, true)
	p.session(t)
	for _, name := range []string{"trusted.overlay.metacopy", "user.x"} {
		if r := p.rpc(t, txattrwalk(2, 0, 1, name), 8192); rlerror(r) != 61 {
			t.Errorf("Txattrwalk %s: % x, want Rlerror ENODATA (61)", name, r)
		}
	}
	if r := p.rpc(t, txattrwalk(3, 0, 2, ""), 8192); rlerror(r) != 95 {
		t.Errorf("Txattrwalk listing: % x, want Rlerror EOPNOTSUPP (95)", r)
	}
	if e := rlerror(p.rpc(t, twalk(5, 0, 3, "missing"), 8192)); e != 2 {
		t.Errorf("Twalk to a missing name after the xattr walks: ecode %d, want ENOENT (2)", e)
	}
	if r := p.rpc(t, tgetattr(6, 0), 8192); r[4] != 25 {
		t.Errorf("Tgetattr after the xattr walks: % x", r)
	}
	// Other errors keep their code: an unknown fid is EBADF.
	if r := p.rpc(t, txattrwalk(4, 77, 3, "user.x"), 8192); rlerror(r) != 9 {
		t.Errorf("Txattrwalk of an unknown fid: % x, want EBADF (9)", r)
	}
}
