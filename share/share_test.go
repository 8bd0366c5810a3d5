package share_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/govmm/govmm/share"
	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
)

func readAll(t *testing.T, f p9.File) string {
	t.Helper()
	buf := make([]byte, 256)
	n, err := f.ReadAt(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestReadWriteCreate(t *testing.T) {
	tr := makeTree(t)
	root := serve(t, tr.root, false)

	f := walk(t, root, "dir", "sub.txt")
	if _, _, err := f.Open(p9.ReadOnly); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f); got != "sub" {
		t.Errorf("read %q", got)
	}

	d := walk(t, root)
	nf, _, _, err := d.Create("new.txt", p9.ReadWrite, 0o640, p9.NoUID, p9.NoGID)
	must(t, err)
	defer nf.Close()
	if n, err := nf.WriteAt([]byte("written"), 3); err != nil || n != 7 {
		t.Fatalf("write: %d %v", n, err)
	}
	got, err := os.ReadFile(filepath.Join(tr.root, "new.txt"))
	must(t, err)
	if string(got) != "\x00\x00\x00written" {
		t.Errorf("host file holds %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(tr.root, "new.txt")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	must(t, nf.FSync())

	// Truncate through setattr, then read back through the same file.
	g := walk(t, root, "new.txt")
	must(t, g.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{Size: 5}))
	if fi, _ := os.Stat(filepath.Join(tr.root, "new.txt")); fi.Size() != 5 {
		t.Errorf("size after truncate %d", fi.Size())
	}
	must(t, g.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o600}))
	if fi, _ := os.Stat(filepath.Join(tr.root, "new.txt")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after chmod %v", fi.Mode())
	}

	// Creating over an existing name fails rather than opening it.
	_, _, _, err = walk(t, root).Create("file.txt", p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID)
	wantErrno(t, "create over file.txt", err, linux.EEXIST)
	tr.checkOutside(t)
}

func TestMkdirSymlinkReaddirUnlink(t *testing.T) {
	tr := makeTree(t)
	root := serve(t, tr.root, false)
	if _, err := root.Mkdir("made", 0o755, p9.NoUID, p9.NoGID); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Symlink("/etc/passwd", "link", p9.NoUID, p9.NoGID); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(tr.root, "link")); err != nil || target != "/etc/passwd" {
		t.Errorf("host symlink %q %v", target, err)
	}
	if got, err := walk(t, root, "link").Readlink(); err != nil || got != "/etc/passwd" {
		t.Errorf("readlink %q %v", got, err)
	}
	if _, err := root.Mknod("fifo", p9.ModeNamedPipe|0o644, 0, 0, p9.NoUID, p9.NoGID); err != nil {
		t.Fatal(err)
	}
	_, err := root.Mknod("dev", p9.ModeCharacterDevice|0o644, 1, 3, p9.NoUID, p9.NoGID)
	wantErrno(t, "mknod of a device", err, linux.EPERM)

	d := walk(t, root)
	if _, _, err := d.Open(p9.ReadOnly); err != nil {
		t.Fatal(err)
	}
	types := map[string]uint8{}
	var names []string
	for off := uint64(0); ; {
		ents, err := d.Readdir(off, 200)
		must(t, err)
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			names = append(names, e.Name)
			types[e.Name] = uint8(e.Type)
			off = e.Offset
		}
	}
	sort.Strings(names)
	want := []string{".", "..", "abs", "dir", "etc", "fifo", "file.txt", "inner", "link", "made", "outdir", "up"}
	if len(names) != len(want) {
		t.Fatalf("readdir: %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("readdir: %q, want %q", names, want)
		}
	}
	// d_type values (DT_DIR 4, DT_LNK 10, DT_REG 8, DT_FIFO 1).
	for name, dt := range map[string]uint8{"made": 4, "etc": 10, "file.txt": 8, "fifo": 1} {
		if types[name] != dt {
			t.Errorf("%s: type %d, want %d", name, types[name], dt)
		}
	}

	must(t, root.UnlinkAt("link", 0))
	must(t, root.UnlinkAt("made", 0x200)) // AT_REMOVEDIR
	for _, n := range []string{"link", "made"} {
		if _, err := os.Lstat(filepath.Join(tr.root, n)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", n, err)
		}
	}
	tr.checkOutside(t)
}

func TestRename(t *testing.T) {
	tr := makeTree(t)
	root := serve(t, tr.root, false)
	dir := walk(t, root, "dir")
	must(t, root.RenameAt("file.txt", dir, "moved.txt"))
	if got, err := os.ReadFile(filepath.Join(tr.root, "dir", "moved.txt")); err != nil || string(got) != "hello, 9p" {
		t.Fatalf("after renameat: %q %v", got, err)
	}
	// Trename: the fid's own entry moves, and the file follows it.
	f := walk(t, dir, "moved.txt")
	must(t, f.Rename(root, "back.txt"))
	if _, err := os.Stat(filepath.Join(tr.root, "back.txt")); err != nil {
		t.Fatal(err)
	}
	must(t, f.SetAttr(p9.SetAttrMask{MTime: true, MTimeNotSystemTime: true}, p9.SetAttr{MTimeSeconds: 1e9}))
	if fi, _ := os.Stat(filepath.Join(tr.root, "back.txt")); fi.ModTime().Unix() != 1e9 {
		t.Errorf("mtime %v", fi.ModTime())
	}
	// The root cannot move.
	wantFail(t, "rename of the root", walk(t, root).Rename(dir, "x"))
}

// Every way out of the share fails, and nothing outside changes.
func TestEscapesRefused(t *testing.T) {
	tr := makeTree(t)
	root := serve(t, tr.root, false)

	for _, path := range [][]string{
		{".."}, {"..", "outside"}, {"etc", "passwd"}, {"up", "secret"},
		{"outdir", "secret"}, {"dir/../.."}, {"/etc"}, {"."},
	} {
		_, f, err := root.Walk(path)
		if err == nil {
			f.Close()
		}
		wantFail(t, "walk "+filepath.Join(path...), err)
	}
	// A symlink is a file of its own: it reads as its text, never opens.
	for name, target := range map[string]string{"etc": "/etc", "abs": filepath.Join(tr.outside, "secret"), "up": "../outside"} {
		l := walk(t, root, name)
		if got, err := l.Readlink(); err != nil || got != target {
			t.Errorf("readlink %s: %q %v", name, got, err)
		}
		_, _, err := l.Open(p9.ReadOnly)
		wantFail(t, "open of symlink "+name, err)
	}
	// Nothing is created through a symlink to a directory outside.
	out := walk(t, root, "outdir")
	_, _, _, err := out.Create("x", p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID)
	wantFail(t, "create through outdir", err)
	_, err = out.Mkdir("x", 0o755, p9.NoUID, p9.NoGID)
	wantFail(t, "mkdir through outdir", err)
	_, err = out.Symlink("/", "x", p9.NoUID, p9.NoGID)
	wantFail(t, "symlink through outdir", err)
	wantFail(t, "unlink through outdir", out.UnlinkAt("secret", 0))
	// Renames across the boundary.
	wantFail(t, "renameat into outdir", root.RenameAt("file.txt", out, "stolen"))
	wantFail(t, "renameat to ../", root.RenameAt("file.txt", root, "../stolen"))
	wantFail(t, "rename into outdir", walk(t, root, "file.txt").Rename(out, "stolen"))
	// Create over the symlinks: O_EXCL|O_NOFOLLOW.
	for _, name := range []string{"abs", "up", "outdir"} {
		_, _, _, err := walk(t, root).Create(name, p9.ReadWrite|0o1000, 0o644, p9.NoUID, p9.NoGID)
		wantErrno(t, "create over symlink "+name, err, linux.EEXIST)
	}
	// setattr on a symlink changes the link, never its target.
	abs := walk(t, root, "abs")
	wantFail(t, "chmod of symlink", abs.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o777}))
	wantFail(t, "truncate of symlink", abs.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{}))
	must(t, abs.SetAttr(p9.SetAttrMask{MTime: true, MTimeNotSystemTime: true}, p9.SetAttr{MTimeSeconds: 1e9}))
	tr.checkOutside(t)
	if fi, _ := os.Stat(filepath.Join(tr.outside, "secret")); fi.ModTime().Unix() == 1e9 {
		t.Error("utimes followed the symlink")
	}
}

// A hard link made through a symlink to an outside file links the symlink
// itself; the outside file's link count does not move.
func TestHardLinkOfOutsideFile(t *testing.T) {
	tr := makeTree(t)
	root := serve(t, tr.root, false)
	abs := walk(t, root, "abs")
	if err := root.Link(abs, "hardlink"); err == nil {
		fi, err := os.Lstat(filepath.Join(tr.root, "hardlink"))
		must(t, err)
		if fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("hard link is a %v, not the symlink", fi.Mode())
		}
	}
	wantFail(t, "link into outdir", walk(t, root, "outdir").Link(walk(t, root, "file.txt"), "x"))
	tr.checkOutside(t)
}

// The File itself refuses what the p9 server already filters, in case
// another server does not.
func TestFileChecksNames(t *testing.T) {
	tr := makeTree(t)
	s, err := share.New(tr.root, false)
	must(t, err)
	defer s.Close()
	root, err := s.Attach()
	must(t, err)
	defer root.Close()
	for _, name := range []string{"..", ".", "", "dir/..", "../outside", "/etc", "a\x00b"} {
		_, f, err := root.Walk([]string{name})
		if err == nil {
			f.Close()
		}
		wantErrno(t, "walk "+name, err, linux.EINVAL)
		_, err = root.Mkdir(name, 0o755, p9.NoUID, p9.NoGID)
		wantErrno(t, "mkdir "+name, err, linux.EINVAL)
		wantErrno(t, "renameat to "+name, root.RenameAt("file.txt", root, name), linux.EINVAL)
		wantErrno(t, "unlinkat "+name, root.UnlinkAt(name, 0), linux.EINVAL)
	}
	_, _, err = root.Walk([]string{"dir", "sub.txt"})
	wantErrno(t, "walk of two names", err, linux.EINVAL)
	tr.checkOutside(t)
}

func TestReadOnly(t *testing.T) {
	tr := makeTree(t)
	root := serve(t, tr.root, true)
	f := walk(t, root, "file.txt")
	for _, mode := range []p9.OpenFlags{p9.WriteOnly, p9.ReadWrite, p9.ReadOnly | 0o1000} {
		_, _, err := walk(t, f).Open(mode)
		wantErrno(t, "open for write", err, linux.EROFS)
	}
	if _, _, err := f.Open(p9.ReadOnly); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f); got != "hello, 9p" {
		t.Errorf("read %q", got)
	}
	dir := walk(t, root, "dir")
	_, _, _, err := walk(t, root).Create("x", p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID)
	wantErrno(t, "create", err, linux.EROFS)
	_, err = root.Mkdir("x", 0o755, p9.NoUID, p9.NoGID)
	wantErrno(t, "mkdir", err, linux.EROFS)
	_, err = root.Symlink("y", "x", p9.NoUID, p9.NoGID)
	wantErrno(t, "symlink", err, linux.EROFS)
	_, err = root.Mknod("x", p9.ModeNamedPipe|0o644, 0, 0, p9.NoUID, p9.NoGID)
	wantErrno(t, "mknod", err, linux.EROFS)
	wantErrno(t, "link", root.Link(walk(t, root, "file.txt"), "x"), linux.EROFS)
	wantErrno(t, "unlinkat", root.UnlinkAt("file.txt", 0), linux.EROFS)
	wantErrno(t, "renameat", root.RenameAt("file.txt", dir, "x"), linux.EROFS)
	wantErrno(t, "rename", walk(t, root, "file.txt").Rename(dir, "x"), linux.EROFS)
	wantErrno(t, "setattr", f.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{}), linux.EROFS)
	// p9's client does not send xattr requests: ask the File directly.
	s, err := share.New(tr.root, true)
	must(t, err)
	defer s.Close()
	sroot, err := s.Attach()
	must(t, err)
	defer sroot.Close()
	wantErrno(t, "setxattr", sroot.SetXattr("user.x", []byte("1"), 0), linux.EROFS)
	wantErrno(t, "removexattr", sroot.RemoveXattr("user.x"), linux.EROFS)
	ents, err := os.ReadDir(tr.root)
	must(t, err)
	if len(ents) != 7 {
		t.Errorf("share changed: %d entries", len(ents))
	}
	if _, err := root.StatFS(); err != nil {
		t.Errorf("statfs: %v", err)
	}
}

// QID paths are per inode: the same file walked twice has one path, a
// hard link shares it, another file differs.
func TestQIDStable(t *testing.T) {
	tr := makeTree(t)
	must(t, os.Link(filepath.Join(tr.root, "file.txt"), filepath.Join(tr.root, "dir", "hl")))
	root := serve(t, tr.root, false)
	q1, _, err := root.Walk([]string{"file.txt"})
	must(t, err)
	q2, _, err := root.Walk([]string{"dir", "hl"})
	must(t, err)
	q3, _, err := root.Walk([]string{"dir"})
	must(t, err)
	if q1[0].Path != q2[1].Path || q1[0].Path == q3[0].Path {
		t.Errorf("qids %v %v %v", q1, q2, q3)
	}
	if q3[0].Type != p9.TypeDir || q1[0].Type != p9.TypeRegular {
		t.Errorf("types %v %v", q3[0].Type, q1[0].Type)
	}
	fi, err := os.Stat(filepath.Join(tr.root, "file.txt"))
	must(t, err)
	if ino := inode(fi); ino < 1<<48 && q1[0].Path&(1<<48-1) != ino {
		t.Errorf("qid path %#x for inode %#x", q1[0].Path, ino)
	}
}

// Pseudo file systems show as empty directories.
func TestPseudoFSOpaque(t *testing.T) {
	root := serve(t, "/", true)
	proc := walk(t, root, "proc")
	_, _, err := proc.Walk([]string{"self"})
	wantErrno(t, "walk into /proc", err, linux.ENOENT)
	if _, _, err := proc.Open(p9.ReadOnly); err != nil {
		t.Fatal(err)
	}
	if ents, err := proc.Readdir(0, 4096); err != nil || len(ents) != 0 {
		t.Errorf("readdir of /proc: %d entries, %v", len(ents), err)
	}
}
