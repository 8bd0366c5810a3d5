package bootparam

import (
	"os"
	"path/filepath"
	"testing"
)

// realKernelFile returns the path of a kernel build artifact under
// $HOME/.cache/govmm/kernel-*/name, skipping the test if there is none.
// These tests need no KVM; they only parse the files.
func realKernelFile(t *testing.T, name string) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skipf("no home directory (%v): skipping the real-kernel test", err)
	}
	pattern := filepath.Join(home, ".cache", "govmm", "kernel-*", name)
	matches, _ := filepath.Glob(pattern)
	if len(matches) == 0 {
		t.Skipf("no kernel build at %s: skipping the real-kernel test (build one with the kernel build script)", pattern)
	}
	return matches[len(matches)-1]
}

// openKernelFile opens path for the test's duration.
func openKernelFile(t *testing.T, path string) (*os.File, os.FileInfo) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}

func TestRealBzImage(t *testing.T) {
	path := realKernelFile(t, "bzImage")
	f, st := openKernelFile(t, path)
	img, err := ParseBzImage(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if string(img.Header[0x202-0x1F1:0x206-0x1F1]) != "HdrS" {
		t.Errorf("%s: no HdrS in the copied header", path)
	}
	if img.Version < 0x020C {
		t.Errorf("%s: protocol version 0x%04X < 0x020C", path, img.Version)
	}
	if img.CmdlineSize < 255 || img.InitSize == 0 || img.KernelSize == 0 || img.KernelOffset+img.KernelSize != uint64(st.Size()) {
		t.Errorf("%s: implausible header: cmdline_size %d, init_size 0x%X, kernel %d bytes at %d", path, img.CmdlineSize, img.InitSize, img.KernelSize, img.KernelOffset)
	}
	t.Logf("%s: protocol %s, setup_sects %d, xloadflags 0x%X, cmdline_size %d, initrd_addr_max 0x%X, init_size 0x%X, header %d bytes, kernel %d bytes",
		path, versionString(img.Version), img.SetupSects, img.XLoadflags, img.CmdlineSize, img.InitrdAddrMax, img.InitSize, len(img.Header), img.KernelSize)
	if _, err := BuildZeroPage(img, ZeroPageParams{CmdlineAddr: 0x20000}); err != nil {
		t.Errorf("BuildZeroPage: %v", err)
	}
}

func TestRealVmlinux(t *testing.T) {
	path := realKernelFile(t, "vmlinux")
	f, st := openKernelFile(t, path)
	k, err := ParseELF(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	found := false
	for _, s := range k.Segments {
		if uint64(k.Entry) >= s.Paddr && uint64(k.Entry) < s.Paddr+s.Filesz {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: PVH entry 0x%X is not in the file bytes of any PT_LOAD segment", path, k.Entry)
	}
	t.Logf("%s: PVH entry 0x%X, %d PT_LOAD segments, end 0x%X", path, k.Entry, len(k.Segments), k.End())
}
