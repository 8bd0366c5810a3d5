package initramfs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// initSource is the test init program, relative to this package.
const initSource = "../testdata/init/init.c"

// initCFlags builds initSource into a static, libc-free x86-64 ELF. Keep it in
// step with the Makefile's rule for build/init.
var initCFlags = []string{
	"-static", "-nostdlib", "-ffreestanding", "-Os",
	"-fno-pie", "-no-pie", "-fno-stack-protector",
	"-fno-asynchronous-unwind-tables",
	"-Wl,--build-id=none", "-Wl,-z,noseparate-code",
	"-Wall", "-Wextra", "-Werror",
}

// buildInit compiles the test init program into a fresh temporary directory
// and returns the binary's path. It fails (never skips) when gcc is missing.
func buildInit(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed to build %s for this test: %v", initSource, err)
	}
	out := filepath.Join(t.TempDir(), "init")
	args := append(append([]string{}, initCFlags...), "-o", out, initSource)
	cmd := exec.Command(gcc, args...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, msg)
	}
	return out
}

// hostFile creates a file with the given contents and permission bits in dir.
func hostFile(t *testing.T, dir, name, contents string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(contents), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return p
}

// writeArchive runs Write and fails the test on error.
func writeArchive(t *testing.T, s Spec) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, s); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

// readArchive reads every record (trailer excluded) with u-root's reader.
func readArchive(t *testing.T, archive []byte) []cpio.Record {
	t.Helper()
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(archive)))
	if err != nil {
		t.Fatalf("reading the archive back: %v", err)
	}
	return recs
}

// contents returns a record's data.
func contents(t *testing.T, r cpio.Record) string {
	t.Helper()
	if r.ReaderAt == nil {
		return ""
	}
	b, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
	if err != nil {
		t.Fatalf("%s: %v", r.Name, err)
	}
	return string(b)
}
