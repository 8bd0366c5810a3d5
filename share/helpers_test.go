package share_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/share"
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
)

// tree is a share laid out for the tests, and a directory beside it that
// nothing may reach.
type tree struct {
	root, outside string
}

// makeTree builds:
//
//	outside/secret           (must stay unreachable and unchanged)
//	share/file.txt           "hello, 9p"
//	share/dir/sub.txt        "sub"
//	share/etc     -> /etc
//	share/abs     -> OUTSIDE/secret   (absolute, out of the share)
//	share/up      -> ../outside       (relative, escapes with ..)
//	share/outdir  -> OUTSIDE          (a directory out of the share)
//	share/inner   -> dir/sub.txt      (stays inside)
func makeTree(t *testing.T) tree {
	t.Helper()
	base := t.TempDir()
	tr := tree{root: filepath.Join(base, "share"), outside: filepath.Join(base, "outside")}
	must(t, os.MkdirAll(filepath.Join(tr.root, "dir"), 0o755))
	must(t, os.MkdirAll(tr.outside, 0o755))
	must(t, os.WriteFile(filepath.Join(tr.outside, "secret"), []byte("secret"), 0o644))
	must(t, os.WriteFile(filepath.Join(tr.root, "file.txt"), []byte("hello, 9p"), 0o644))
	must(t, os.WriteFile(filepath.Join(tr.root, "dir", "sub.txt"), []byte("sub"), 0o644))
	for name, target := range map[string]string{
		"etc":    "/etc",
		"abs":    filepath.Join(tr.outside, "secret"),
		"up":     "../outside",
		"outdir": tr.outside,
		"inner":  "dir/sub.txt",
	} {
		must(t, os.Symlink(target, filepath.Join(tr.root, name)))
	}
	return tr
}

// checkOutside fails if anything beside the share changed.
func (tr tree) checkOutside(t *testing.T) {
	t.Helper()
	ents, err := os.ReadDir(tr.outside)
	must(t, err)
	if len(ents) != 1 || ents[0].Name() != "secret" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("outside directory now holds %q", names)
	}
	fi, err := os.Lstat(filepath.Join(tr.outside, "secret"))
	must(t, err)
	if n := nlink(fi); n != 1 || fi.Mode() != 0o644 || fi.Size() != 6 {
		t.Errorf("outside secret changed: nlink %d mode %v size %d", n, fi.Mode(), fi.Size())
	}
}

// serve attaches a p9 client to a share of dir through the p9 server,
// over an in-memory connection.
func serve(t *testing.T, dir string, readOnly bool) p9.File {
	t.Helper()
	s, err := share.New(dir, readOnly)
	must(t, err)
	srv, cli := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// p9's connState.stop can panic on its WaitGroup if a request
		// goroutine is still starting when the connection closes (a race
		// in the library); the pause before closing below avoids it.
		defer func() { recover() }()
		p9.NewServer(s).Handle(srv, srv)
	}()
	c, err := p9.NewClient(cli, p9.WithMessageSize(64<<10))
	must(t, err)
	root, err := c.Attach("")
	must(t, err)
	t.Cleanup(func() {
		root.Close()
		time.Sleep(20 * time.Millisecond) // let the server's goroutines go idle
		c.Close()
		<-done
		s.Close()
	})
	return root
}

func walk(t *testing.T, from p9.File, names ...string) p9.File {
	t.Helper()
	_, f, err := from.Walk(names)
	if err != nil {
		t.Fatalf("walk %q: %v", names, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// wantErrno checks that err is the 9P error e.
func wantErrno(t *testing.T, what string, err error, e linux.Errno) {
	t.Helper()
	if !errors.Is(err, e) {
		t.Errorf("%s: error %v, want %v", what, err, e)
	}
}

// wantFail checks that an operation that could reach outside failed.
func wantFail(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded", what)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func nlink(fi os.FileInfo) uint64 { return uint64(fi.Sys().(*syscall.Stat_t).Nlink) }

func inode(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }
