package initramfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govmm/govmm/guests"
)

// runMain runs Main and returns its exit code and stderr.
func runMain(args ...string) (int, string) {
	var stderr bytes.Buffer
	code := Main(args, &stderr)
	return code, stderr.String()
}

func TestMainBuildsArchive(t *testing.T) {
	initBin := buildInit(t)
	dir := t.TempDir()
	motd := hostFile(t, dir, "motd", "hi\n", 0o644)
	out := filepath.Join(dir, "out.cpio")

	code, stderr := runMain("-o", out, "-init", initBin, "etc/motd="+motd)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	archive, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("output mode: %v, %v; want 0644", fi.Mode(), err)
	}
	wantInit, err := os.ReadFile(initBin)
	if err != nil {
		t.Fatal(err)
	}
	recs := readArchive(t, archive)
	byName := map[string]string{}
	for _, r := range recs {
		byName[r.Name] = contents(t, r)
	}
	if byName["init"] != string(wantInit) {
		t.Errorf("/init is not the compiled init program")
	}
	if byName["etc/motd"] != "hi\n" {
		t.Errorf("etc/motd = %q, want %q", byName["etc/motd"], "hi\n")
	}
	if _, ok := byName["dev/console"]; !ok {
		t.Errorf("no dev/console")
	}
	checkOnlyFiles(t, dir, "motd", "out.cpio")
}

func TestMainUsageErrors(t *testing.T) {
	dir := t.TempDir()
	i := hostFile(t, dir, "init", "x", 0o755)
	out := filepath.Join(dir, "o.cpio")
	tests := []struct {
		args []string
		want string
	}{
		{nil, "initramfs: -o FILE is required (see -h)\n"},
		{[]string{"-bogus"}, "initramfs: flag provided but not defined: -bogus (see -h)\n"},
		{[]string{"-o"}, "initramfs: flag needs an argument: -o (see -h)\n"},
		{[]string{"-o", out, "-init", i, "nodest"}, "initramfs: argument \"nodest\" is not DEST=SRC (see -h)\n"},
		{[]string{"-o", out, "-init", i, "a=b", "-init", i}, "initramfs: argument \"-init\" looks like a flag: put flags before the DEST=SRC arguments (see -h)\n"},
		{[]string{"-o", out, "-init", i, "../x=" + i}, "initramfs: archive path \"../x\" contains \"..\" (see -h)\n"},
	}
	for _, tc := range tests {
		code, stderr := runMain(tc.args...)
		if code != 2 || stderr != tc.want {
			t.Errorf("Main(%q): exit %d, stderr %q; want 2, %q", tc.args, code, stderr, tc.want)
		}
	}
	checkOnlyFiles(t, dir, "init")
}

func TestMainHelp(t *testing.T) {
	code, stderr := runMain("-h")
	if code != 0 || !strings.HasPrefix(stderr, "usage: govmm initramfs") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the usage", code, stderr)
	}
}

func TestMainFailureKeepsOldOutput(t *testing.T) {
	dir := t.TempDir()
	i := hostFile(t, dir, "init", "x", 0o755)
	out := hostFile(t, dir, "out.cpio", "old archive", 0o644)
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-o", out, "-init", i, "bin/x=" + missing},
			"initramfs: bin/x=" + missing + ": open " + missing + ": no such file or directory\n"},
		{[]string{"-o", out, "-init", missing},
			"initramfs: -init: open " + missing + ": no such file or directory\n"},
	}
	for _, tc := range tests {
		code, stderr := runMain(tc.args...)
		if code != 1 || stderr != tc.want {
			t.Errorf("Main(%q): exit %d, stderr %q; want 1, %q", tc.args, code, stderr, tc.want)
		}
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "old archive" {
		t.Errorf("output after failures: %q, %v; want the old contents", b, err)
	}
	checkOnlyFiles(t, dir, "init", "out.cpio") // no temporary file left behind
}

func TestMainOutputDirMissing(t *testing.T) {
	dir := t.TempDir()
	i := hostFile(t, dir, "init", "x", 0o755)
	out := filepath.Join(dir, "nodir", "out.cpio")
	code, stderr := runMain("-o", out, "-init", i)
	if code != 1 || !strings.HasPrefix(stderr, "initramfs: open "+filepath.Join(dir, "nodir")) ||
		strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming the directory", code, stderr)
	}
}

// checkOnlyFiles fails unless dir holds exactly the named entries.
func checkOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func TestMainDefaultInitIsBuiltIn(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.cpio")
	if code, errs := runMain("-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	archive, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readArchive(t, archive) {
		if r.Name == "init" {
			if got := contents(t, r); got != string(guests.TestInit()) || r.Mode&0o777 != 0o755 {
				t.Fatalf("/init is %d bytes, mode %o; want the built-in test init", len(got), r.Mode)
			}
			return
		}
	}
	t.Fatal("no /init in the archive")
}
