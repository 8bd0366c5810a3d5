package initramfs

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanArchivePath(t *testing.T) {
	good := map[string]string{
		"init2":       "init2",
		"/bin/sh":     "bin/sh",
		"//etc///x/":  "etc/x",
		"./a/./b":     "a/b",
		"a..b/..c":    "a..b/..c", // ".." only as a whole element is special
		"/usr/lib/x.": "usr/lib/x.",
	}
	for in, want := range good {
		if got, err := cleanArchivePath(in); err != nil || got != want {
			t.Errorf("cleanArchivePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/", ".", "./", "..", "../x", "a/../b", "/a/..", "a/b/../../..", "a\x00b"} {
		if got, err := cleanArchivePath(in); err == nil {
			t.Errorf("cleanArchivePath(%q) = %q, want an error", in, got)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	f := hostFile(t, dir, "f", "data", 0o644)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name  string
		spec  Spec
		error string // the whole message, or a part of it after "..."
	}{
		{"no init", Spec{}, "initramfs: Spec.Init is empty: the archive needs an /init program"},
		{"missing host file", Spec{Init: []byte("i"), Files: map[string]string{"bin/x": missing}},
			"initramfs: bin/x=" + missing + ": open " + missing + ": no such file or directory"},
		{"host directory", Spec{Init: []byte("i"), Files: map[string]string{"d": dir}},
			"initramfs: d=" + dir + ": " + dir + " is a directory, not a regular file"},
		{"dot-dot", Spec{Init: []byte("i"), Files: map[string]string{"../etc/passwd": f}},
			`initramfs: archive path "../etc/passwd" contains ".."`},
		{"root", Spec{Init: []byte("i"), Files: map[string]string{"/": f}},
			`initramfs: archive path "/" names the archive root, not a file`},
		{"replaces init", Spec{Init: []byte("i"), Files: map[string]string{"/init": f}},
			`initramfs: /init=` + f + `: archive path "init" is built in and cannot be replaced`},
		{"replaces dev", Spec{Init: []byte("i"), Files: map[string]string{"dev": f}},
			`...archive path "dev" is built in and cannot be replaced`},
		{"under the console", Spec{Init: []byte("i"), Files: map[string]string{"dev/console/x": f}},
			`...archive path "dev/console/x" needs "dev/console" to be a directory, but it is a file`},
		{"under init", Spec{Init: []byte("i"), Files: map[string]string{"init/x": f}},
			`...needs "init" to be a directory`},
		{"file and directory", Spec{Init: []byte("i"), Files: map[string]string{"a": f, "a/b/c": f}},
			`initramfs: a/b/c=` + f + `: archive path "a/b/c" needs "a" to be a directory, but it is a file`},
		{"same path twice", Spec{Init: []byte("i"), Files: map[string]string{"/etc/x": f, "etc//x": f}},
			`initramfs: /etc/x=` + f + ` and etc//x=` + f + ` name the same archive path "etc/x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, tc.spec)
			if err == nil {
				t.Fatal("Write succeeded, want an error")
			}
			if part, ok := strings.CutPrefix(tc.error, "..."); ok {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			} else if err.Error() != tc.error {
				t.Errorf("error:\n got %q\nwant %q", err, tc.error)
			}
			if b.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing, want 0", b.Len())
			}
		})
	}
}
