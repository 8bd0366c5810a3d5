package share_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/govmm/govmm/share"
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
)

// rawConn speaks 9P2000.L to a share's p9 server one message at a time,
// for requests p9's client does not send (Txattrwalk).
type rawConn struct {
	t   *testing.T
	c   net.Conn
	tag uint16
}

// serveRaw starts p9's server for a share of dir and returns a raw
// connection to it, after Tversion and a Tattach of fid 0.
func serveRaw(t *testing.T, dir string) *rawConn {
	t.Helper()
	s, err := share.New(dir, false)
	must(t, err)
	srv, cli := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { recover() }() // see serve
		p9.NewServer(s).Handle(srv, srv)
	}()
	c := &rawConn{t: t, c: cli}
	t.Cleanup(func() {
		time.Sleep(20 * time.Millisecond) // let the server's goroutines go idle
		cli.Close()
		<-done
		s.Close()
	})
	c.tag = 0xffff // NOTAG
	if typ, _ := c.rpc(100, le32(64<<10), str("9P2000.L")); typ != 101 {
		t.Fatalf("Tversion answered with type %d", typ)
	}
	// Tattach fid[4] afid[4] uname[s] aname[s] n_uname[4].
	if typ, body := c.rpc(104, le32(0), le32(^uint32(0)), str(""), str(""), le32(0)); typ != 105 {
		t.Fatalf("Tattach answered with type %d % x", typ, body)
	}
	return c
}

// rpc sends one T-message of type typ made of the given fields and
// returns the reply's type and body.
func (c *rawConn) rpc(typ uint8, fields ...[]byte) (uint8, []byte) {
	c.t.Helper()
	c.tag++
	msg := []byte{0, 0, 0, 0, typ, byte(c.tag), byte(c.tag >> 8)}
	for _, f := range fields {
		msg = append(msg, f...)
	}
	binary.LittleEndian.PutUint32(msg, uint32(len(msg)))
	if _, err := c.c.Write(msg); err != nil {
		c.t.Fatal(err)
	}
	var hdr [7]byte
	if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
		c.t.Fatal(err)
	}
	body := make([]byte, binary.LittleEndian.Uint32(hdr[:])-7)
	if _, err := io.ReadFull(c.c, body); err != nil {
		c.t.Fatal(err)
	}
	if tag := binary.LittleEndian.Uint16(hdr[5:]); tag != c.tag {
		c.t.Fatalf("reply tag %d, want %d", tag, c.tag)
	}
	return hdr[4], body
}

// walk sends Twalk fid newfid names and returns 0 for Rwalk or the
// Rlerror code.
func (c *rawConn) walk(fid, newFID uint32, names ...string) linux.Errno {
	c.t.Helper()
	fields := [][]byte{le32(fid), le32(newFID), {byte(len(names)), 0}}
	for _, n := range names {
		fields = append(fields, str(n))
	}
	return c.errno(c.rpc(110, fields...))
}

// xattrWalk sends Txattrwalk fid newfid name and, if it made newfid,
// clunks it, as a Linux guest does after reading the value or the list.
func (c *rawConn) xattrWalk(fid, newFID uint32, name string) {
	c.t.Helper()
	if typ, _ := c.rpc(30, le32(fid), le32(newFID), str(name)); typ == 31 {
		if e := c.errno(c.rpc(120, le32(newFID))); e != 0 {
			c.t.Errorf("Tclunk of the xattr fid: %v", e)
		}
	}
}

// errno is 0 for a reply other than Rlerror, else its code.
func (c *rawConn) errno(typ uint8, body []byte) linux.Errno {
	c.t.Helper()
	if typ != 7 {
		return 0
	}
	if len(body) != 4 {
		c.t.Fatalf("Rlerror body % x", body)
	}
	return linux.Errno(binary.LittleEndian.Uint32(body))
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func str(s string) []byte {
	return append(binary.LittleEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// Asking for a directory's extended attributes, as overlayfs does when it
// copies a directory of a 9p lower layer up, must leave the directory's
// fid (and its parent's) working: a later lookup of a missing name is
// ENOENT, not EBADF. p9's server gives the fid Txattrwalk makes the very
// File of the fid walked from, and closes that File when the new fid is
// clunked, so the share must never answer a Txattrwalk with success.
func TestXattrWalkKeepsFid(t *testing.T) {
	tr := makeTree(t)
	c := serveRaw(t, tr.root)
	if e := c.walk(0, 1, "dir"); e != 0 {
		t.Fatalf("walk dir: %v", e)
	}
	// Three listings and a get: each clunk of a shared File would also
	// drop a reference of the root fid that was never taken.
	for i := uint32(0); i < 3; i++ {
		c.xattrWalk(1, 10+i, "")
	}
	c.xattrWalk(1, 20, "trusted.overlay.opaque")
	if e := c.walk(1, 2, "missing"); e != linux.ENOENT {
		t.Errorf("walk to a missing name after the xattr walks: %v, want ENOENT", e)
	}
	if e := c.walk(1, 3, "sub.txt"); e != 0 {
		t.Errorf("walk dir/sub.txt after the xattr walks: %v", e)
	}
	// Tgetattr fid[4] request_mask[8] on the directory itself.
	if e := c.errno(c.rpc(24, le32(1), binary.LittleEndian.AppendUint64(nil, 0x7ff))); e != 0 {
		t.Errorf("getattr of dir after the xattr walks: %v", e)
	}
	// The root's fid, the parent of dir's, still works once the fids
	// walked from it are gone.
	for _, fid := range []uint32{3, 1} {
		if e := c.errno(c.rpc(120, le32(fid))); e != 0 {
			t.Errorf("clunk of fid %d: %v", fid, e)
		}
	}
	if e := c.walk(0, 4, "file.txt"); e != 0 {
		t.Errorf("walk from the root after the xattr walks: %v", e)
	}
	if e := c.walk(0, 5, "nothing"); e != linux.ENOENT {
		t.Errorf("walk from the root to a missing name: %v, want ENOENT", e)
	}
}

// The share has no extended attributes: none to get (ENODATA), and
// listing them is not supported (see ListXattrs).
func TestXattrNone(t *testing.T) {
	tr := makeTree(t)
	s, err := share.New(tr.root, false)
	must(t, err)
	defer s.Close()
	root, err := s.Attach()
	must(t, err)
	defer root.Close()
	_, err = root.GetXattr("user.x")
	wantErrno(t, "getxattr", err, linux.ENODATA)
	_, err = root.ListXattrs()
	wantErrno(t, "listxattr", err, linux.EOPNOTSUPP)
	wantErrno(t, "setxattr", root.SetXattr("user.x", []byte("1"), 0), linux.EOPNOTSUPP)
}
