package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs govmm in-process with stdin at EOF.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	var out, errb bytes.Buffer
	code = govmm(args, devnull, &out, &errb)
	return code, out.String(), errb.String()
}

// oneLine fails unless s is a single line that contains want and no Go
// stack trace.
func oneLine(t *testing.T, s, want string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.Contains(s, want) || strings.Contains(s, "goroutine") {
		t.Errorf("stderr %q: want one line containing %q", s, want)
	}
}

// TestBadInputGetsOneLineAndExitCode runs without KVM: kvmDevice points at
// a missing file, and no case may get as far as opening it, so every error
// is the one about the flag or file.
func TestBadInputGetsOneLineAndExitCode(t *testing.T) {
	dir := t.TempDir()
	noKVM := filepath.Join(dir, "no-kvm")
	defer func(old string) { kvmDevice = old }(kvmDevice)
	kvmDevice = noKVM

	notKernel := filepath.Join(dir, "notes.txt")
	os.WriteFile(notKernel, []byte("hello, not a kernel\n"), 0o644)
	// A bzImage cut short: boot sector with HdrS but no kernel behind it.
	truncated := filepath.Join(dir, "truncated-bzImage")
	hdr := make([]byte, 0x400)
	hdr[0x1f1] = 1                      // setup_sects
	hdr[0x1fe], hdr[0x1ff] = 0x55, 0xaa // boot_flag
	copy(hdr[0x202:], "HdrS")           // header magic
	hdr[0x206], hdr[0x207] = 0x0f, 0x02 // version 2.15
	os.WriteFile(truncated, hdr, 0o644)
	big := filepath.Join(dir, "big.img")
	f, _ := os.Create(big)
	f.Truncate(64 << 20) // sparse: an initrd larger than a 16 MiB guest
	f.Close()
	aDir := filepath.Join(dir, "a-directory")
	os.Mkdir(aDir, 0o755)
	missing := filepath.Join(dir, "nope")
	kernel := testKernel(t)
	// govmm exec puts its own binary in the guest: a static one here.
	defer func(old func() (string, error)) { selfExecutable = old }(selfExecutable)
	static := tinyELF(t, 62, false)
	selfExecutable = func() (string, error) { return static, nil }

	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"fly"}, 2, "unknown command"},
		{"missing kernel", []string{"run", "-kernel", missing}, 1, "-kernel " + missing + ": no such file or directory"},
		{"directory as -kernel", []string{"run", "-kernel", aDir}, 1, "-kernel " + aDir + ": is a directory"},
		{"not a bzImage", []string{"run", "-kernel", notKernel}, 1, "neither a bzImage nor an ELF vmlinux"},
		{"truncated bzImage", []string{"run", "-kernel", truncated}, 1, "-kernel " + truncated},
		{"unparsable -m", []string{"run", "-kernel", kernel, "-m", "lots"}, 2, `-m "lots": not a size`},
		{"-m too small", []string{"run", "-kernel", kernel, "-m", "1M"}, 1, "too small"},
		{"-smp 0", []string{"run", "-kernel", kernel, "-smp", "0"}, 2, "-smp 0"},
		{"-smp too many", []string{"run", "-kernel", kernel, "-smp", "65"}, 1, "-smp: 65 CPUs"},
		{"initrd does not fit", []string{"run", "-kernel", kernel, "-m", "32M", "-initrd", big}, 1, "-initrd " + big},
		{"missing -initrd", []string{"run", "-kernel", kernel, "-initrd", missing}, 1, "-initrd " + missing + ": no such file or directory"},
		{"command line too long", []string{"run", "-kernel", kernel, "-append", strings.Repeat("x", 4096)}, 1, "command line"},
		{"70 KB -append", []string{"run", "-kernel", kernel, "-append", strings.Repeat("x", 70<<10)}, 1, "-append: "},
		{"kernel and raw", []string{"run", "-kernel", kernel, "-raw", kernel}, 2, "exactly one of -kernel and -raw"},
		{"bad -raw-mode", []string{"run", "-raw", kernel, "-raw-mode", "protected"}, 2, "-raw-mode"},
		{"-raw-mode with -kernel", []string{"run", "-kernel", kernel, "-raw-mode", "user"}, 2, "-raw-mode needs -raw"},
		{"-append with -raw", []string{"run", "-raw", notKernel, "-append", "quiet"}, 2, "-append needs -kernel"},
		{"missing -raw file", []string{"run", "-raw", missing}, 1, "-raw " + missing + ": no such file or directory"},
		{"-raw larger than RAM", []string{"run", "-raw", big, "-m", "16M"}, 1, "-raw " + big},
		{"bad -compat", []string{"run", "-kernel", kernel, "-compat", "maybe"}, 2, "-compat"},
		{"bad -disk", []string{"run", "-kernel", kernel, "-disk", "x,rw"}, 2, "-disk"},
		{"missing -disk file", []string{"run", "-kernel", kernel, "-disk", missing}, 1, "-disk " + missing + ": no such file or directory"},
		{"directory as -disk", []string{"run", "-kernel", kernel, "-disk", aDir + ",ro"}, 1, "-disk " + aDir + ": is a directory"},
		{"same -disk twice", []string{"run", "-kernel", kernel, "-disk", big, "-disk", big}, 1, "-disk " + big + ": the same image"},
		{"-profile in a missing directory", []string{"run", "-kernel", kernel, "-profile", filepath.Join(missing, "p.txt")}, 1, "-profile " + filepath.Join(missing, "p.txt")},
		{"directory as -profile", []string{"run", "-kernel", kernel, "-profile", aDir}, 1, "-profile " + aDir + ": is a directory"},
		{"missing -system-map", []string{"run", "-kernel", kernel, "-profile", filepath.Join(dir, "p.txt"), "-system-map", missing}, 1, "-system-map " + missing},
		{"unknown flag", []string{"run", "-cpus", "2"}, 2, "-cpus"},
		{"bad -acpi", []string{"run", "-kernel", kernel, "-acpi=maybe"}, 2, "-acpi"},
		{"-acpi with -raw", []string{"run", "-raw", notKernel, "-acpi=on"}, 2, "-acpi needs -kernel"},
		{"-reboot restart with -raw", []string{"run", "-raw", notKernel, "-reboot", "restart"}, 2, "-reboot restart needs -kernel"},
		{"bad -reboot", []string{"run", "-kernel", kernel, "-reboot", "halt"}, 2, "-reboot"},
		{"missing -share dir", []string{"run", "-kernel", kernel, "-share", missing}, 1, "-share " + missing + ": no such file or directory"},
		{"file as -share", []string{"run", "-kernel", kernel, "-share", notKernel + ",ro"}, 1, "-share " + notKernel + ": not a directory"},
		{"bad -share option", []string{"run", "-kernel", kernel, "-share", aDir + ",rw"}, 2, "-share"},
		{"-share without dir", []string{"run", "-kernel", kernel, "-share", ",ro"}, 2, "-share"},
		{"empty -share tag", []string{"run", "-kernel", kernel, "-share", aDir + ",tag="}, 2, "tag="},
		{"long -share tag", []string{"run", "-kernel", kernel, "-share", aDir + ",tag=" + strings.Repeat("t", 32)}, 2, "tag="},
		{"same -share tag twice", []string{"run", "-kernel", kernel, "-share", aDir + ",tag=x", "-share", dir + ",tag=x"}, 2, "tag=x is given twice"},
		{"default tag taken", []string{"run", "-kernel", kernel, "-share", aDir + ",tag=share1", "-share", dir}, 2, "tag=share1 is given twice"},
		{"-rwdir without -rootfs", []string{"run", "-kernel", kernel, "-rwdir", aDir}, 2, "-rwdir needs -rootfs"},
		{"-rootfs without -kernel", []string{"run", "-raw", notKernel, "-rootfs", "/"}, 2, "-rootfs needs -kernel"},
		{"-rootfs with -initrd", []string{"run", "-kernel", kernel, "-rootfs", "/", "-initrd", big}, 2, "-initrd"},
		{"missing -rootfs", []string{"run", "-kernel", kernel, "-rootfs", missing}, 1, "-rootfs " + missing + ": no such file or directory"},
		{"exec without command", []string{"exec", "-kernel", kernel}, 2, "no command"},
		{"exec without command after --", []string{"exec", "-kernel", kernel, "--"}, 2, "no command"},
		{"exec without -kernel", []string{"exec", "--", "true"}, 2, "-kernel"},
		{"exec -raw", []string{"exec", "-raw", notKernel, "--", "true"}, 2, "-raw"},
		{"exec -initrd", []string{"exec", "-kernel", kernel, "-initrd", big, "--", "true"}, 2, "-initrd"},
		{"exec -console", []string{"exec", "-kernel", kernel, "-console", "virtio", "--", "true"}, 2, "-console"},
		{"exec -acpi=off", []string{"exec", "-kernel", kernel, "-acpi=off", "--", "true"}, 2, "-acpi=off"},
		{"exec -reboot restart", []string{"exec", "-kernel", kernel, "-reboot", "restart", "--", "true"}, 2, "-reboot"},
		{"exec -share with its tag", []string{"exec", "-kernel", kernel, "-share", aDir + ",tag=govmm-root", "--", "true"}, 2, "govmm-root"},
		{"exec unknown flag", []string{"exec", "-kernel", kernel, "-rootdir", "/", "--", "true"}, 2, "-rootdir"},
		{"exec same -rwdir twice", []string{"exec", "-kernel", kernel, "-rwdir", aDir, "-rwdir", aDir + "/", "--", "true"}, 2, "-rwdir"},
		{"exec -rwdir /", []string{"exec", "-kernel", kernel, "-rwdir", "/", "--", "true"}, 2, "-rwdir /"},
		{"exec missing -rootfs", []string{"exec", "-kernel", kernel, "-rootfs", missing, "--", "true"}, 1, "-rootfs " + missing + ": no such file or directory"},
		{"exec file as -rootfs", []string{"exec", "-kernel", kernel, "-rootfs", notKernel, "--", "true"}, 1, "-rootfs " + notKernel + ": not a directory"},
		{"exec missing -rwdir", []string{"exec", "-kernel", kernel, "-rwdir", missing, "--", "true"}, 1, "-rwdir " + missing + ": no such file or directory"},
		{"exec working directory outside -rootfs", []string{"exec", "-kernel", kernel, "-rootfs", aDir, "--", "true"}, 1, "not visible in the guest"},
		{"exec bad kernel", []string{"exec", "-kernel", notKernel, "--", "true"}, 1, "neither a bzImage nor an ELF vmlinux"},
		{"exec -m too small", []string{"exec", "-kernel", kernel, "-m", "1M", "--", "true"}, 1, "too small"},
	} {
		code, _, errs := cli(t, c.args...)
		if strings.Contains(errs, "/dev/kvm") || strings.Contains(errs, noKVM) {
			t.Errorf("%s: reached KVM: %q", c.name, errs)
			continue
		}
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", c.name, code, c.code, errs)
			continue
		}
		if c.args == nil {
			continue // the usage text is several lines on purpose
		}
		oneLine(t, errs, c.want)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.txt")); err == nil {
		t.Error("a failed run left its -profile file behind")
	}

	// Good input passes every check and fails only at the missing KVM
	// device: the cases above were stopped by the checks, not by KVM.
	code, _, errs := cli(t, "run", "-kernel", kernel, "-m", "64M", "-disk", big+",ro", "-profile", filepath.Join(dir, "p.txt"))
	if code != 1 || !strings.Contains(errs, noKVM) {
		t.Errorf("good input without KVM: exit %d, stderr %q; want exit 1 naming %s", code, errs, noKVM)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.txt")); err == nil {
		t.Error("a run that could not open KVM left its -profile file behind")
	}
	for _, args := range [][]string{
		{"run", "-kernel", kernel, "-m", "64M", "-share", aDir, "-share", dir + ",tag=/dev/root,ro"},
		{"run", "-kernel", kernel, "-m", "64M", "-rootfs", "/", "-rwdir", aDir},
		{"exec", "-kernel", kernel, "-m", "64M", "-rwdir", aDir, "-share", dir, "--", "sh", "-c", "exit 7"},
	} {
		code, _, errs := cli(t, args...)
		if code != 1 || !strings.Contains(errs, noKVM) {
			t.Errorf("govmm %s without KVM: exit %d, stderr %q; want exit 1 naming %s", args[0], code, errs, noKVM)
		}
	}
	// A dynamically linked govmm cannot be the guest's /init.
	dynamic := tinyELF(t, 62, true)
	selfExecutable = func() (string, error) { return dynamic, nil }
	code, _, errs = cli(t, "exec", "-kernel", kernel, "--", "true")
	if code != 1 || strings.Contains(errs, noKVM) {
		t.Errorf("dynamic govmm: exit %d, stderr %q; want exit 1 before KVM", code, errs)
	}
	oneLine(t, errs, "dynamically linked")
}

// testKernel returns the test bzImage (make kernel), so that the -m,
// -initrd and -append checks run against a real setup header.
func testKernel(t *testing.T) string {
	if d := os.Getenv("GOVMM_KERNEL_DIR"); d != "" {
		return filepath.Join(d, "bzImage")
	}
	matches, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".cache/govmm/kernel-*/bzImage"))
	if len(matches) > 0 {
		return matches[0]
	}
	t.Fatal("no test kernel: run `make kernel` (or `make test`)")
	return ""
}
