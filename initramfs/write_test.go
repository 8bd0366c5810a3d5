package initramfs

import (
	"bytes"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// want is the expected metadata of one record.
type want struct {
	name           string
	mode           uint64
	rmajor, rminor uint64
	data           string
}

// checkRecords compares records with the expected list, in order.
func checkRecords(t *testing.T, got []cpio.Record, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		var names []string
		for _, r := range got {
			names = append(names, r.Name)
		}
		t.Fatalf("got %d records %q, want %d", len(got), names, len(wants))
	}
	for i, w := range wants {
		r := got[i]
		if r.Name != w.name || r.Mode != w.mode || r.Rmajor != w.rmajor || r.Rminor != w.rminor {
			t.Errorf("record %d: got %q mode %#o dev %d,%d; want %q mode %#o dev %d,%d",
				i, r.Name, r.Mode, r.Rmajor, r.Rminor, w.name, w.mode, w.rmajor, w.rminor)
		}
		if d := contents(t, r); d != w.data {
			t.Errorf("record %d (%s): contents %q, want %q", i, r.Name, d, w.data)
		}
		if r.MTime != 0 || r.UID != 0 || r.GID != 0 {
			t.Errorf("record %d (%s): mtime %d uid %d gid %d, want all 0", i, r.Name, r.MTime, r.UID, r.GID)
		}
	}
}

func TestWriteSkeleton(t *testing.T) {
	got := readArchive(t, writeArchive(t, Spec{Init: []byte("#!init")}))
	checkRecords(t, got, []want{
		{name: ".", mode: cpio.S_IFDIR | 0o755},
		{name: "dev", mode: cpio.S_IFDIR | 0o755},
		{name: "dev/console", mode: cpio.S_IFCHR | 0o600, rmajor: 5, rminor: 1},
		{name: "init", mode: cpio.S_IFREG | 0o755, data: "#!init"},
	})
}

func TestWriteHostFiles(t *testing.T) {
	dir := t.TempDir()
	s := Spec{
		Init: []byte("INIT"),
		Files: map[string]string{
			"/bin/hello":          hostFile(t, dir, "hello", "hello bin", 0o755),
			"etc//motd":           hostFile(t, dir, "motd", "welcome\n", 0o644),
			"usr/share/doc/x/./y": hostFile(t, dir, "y", "", 0o600), // empty file
			"dev/extra":           hostFile(t, dir, "extra", "e", 0o640),
		},
	}
	got := readArchive(t, writeArchive(t, s))
	dirMode := uint64(cpio.S_IFDIR | 0o755)
	checkRecords(t, got, []want{
		{name: ".", mode: dirMode},
		{name: "bin", mode: dirMode},
		{name: "bin/hello", mode: cpio.S_IFREG | 0o755, data: "hello bin"},
		{name: "dev", mode: dirMode},
		{name: "dev/console", mode: cpio.S_IFCHR | 0o600, rmajor: 5, rminor: 1},
		{name: "dev/extra", mode: cpio.S_IFREG | 0o640, data: "e"},
		{name: "etc", mode: dirMode},
		{name: "etc/motd", mode: cpio.S_IFREG | 0o644, data: "welcome\n"},
		{name: "init", mode: cpio.S_IFREG | 0o755, data: "INIT"},
		{name: "usr", mode: dirMode},
		{name: "usr/share", mode: dirMode},
		{name: "usr/share/doc", mode: dirMode},
		{name: "usr/share/doc/x", mode: dirMode},
		{name: "usr/share/doc/x/y", mode: cpio.S_IFREG | 0o600},
	})
}

func TestWriteDeterministic(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		files["x/"+n] = hostFile(t, dir, n, n+n, 0o644)
		files[n+"/file"] = hostFile(t, dir, n+"2", n, 0o600)
	}
	s := Spec{Init: []byte("init"), Files: files}
	first := writeArchive(t, s)
	for i := 0; i < 5; i++ { // map order differs from run to run
		if again := writeArchive(t, s); !bytes.Equal(first, again) {
			t.Fatalf("run %d: archive differs from the first run", i+2)
		}
	}
}

func TestWriteDataFiles(t *testing.T) {
	dir := t.TempDir()
	s := Spec{
		Init:  []byte("INIT"),
		Files: map[string]string{"etc/motd": hostFile(t, dir, "motd", "hi", 0o644)},
		Data:  map[string][]byte{"/govmm/job.json": []byte(`{"argv":["true"]}`), "etc/empty": nil},
	}
	got := readArchive(t, writeArchive(t, s))
	dirMode := uint64(cpio.S_IFDIR | 0o755)
	checkRecords(t, got, []want{
		{name: ".", mode: dirMode},
		{name: "dev", mode: dirMode},
		{name: "dev/console", mode: cpio.S_IFCHR | 0o600, rmajor: 5, rminor: 1},
		{name: "etc", mode: dirMode},
		{name: "etc/empty", mode: cpio.S_IFREG | 0o644},
		{name: "etc/motd", mode: cpio.S_IFREG | 0o644, data: "hi"},
		{name: "govmm", mode: dirMode},
		{name: "govmm/job.json", mode: cpio.S_IFREG | 0o644, data: `{"argv":["true"]}`},
		{name: "init", mode: cpio.S_IFREG | 0o755, data: "INIT"},
	})
	for _, bad := range []Spec{
		{Init: []byte("I"), Data: map[string][]byte{"init": []byte("x")}},
		{Init: []byte("I"), Data: map[string][]byte{"../x": nil}},
		{Init: []byte("I"), Files: map[string]string{"a": hostFile(t, dir, "a", "", 0o644)}, Data: map[string][]byte{"/a": nil}},
	} {
		if err := Write(new(bytes.Buffer), bad); err == nil {
			t.Errorf("Write(%v) succeeded; want an error", bad.Data)
		}
	}
}
