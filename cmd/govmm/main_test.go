package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/kvm"
)

func requireKVM(t *testing.T) {
	t.Helper()
	s, err := kvm.Open("/dev/kvm")
	if err != nil {
		t.Skipf("SKIP: needs /dev/kvm, which cannot be opened: %v", err)
	}
	s.Close()
}

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

func TestDemoPrintsGreetingAndExits0(t *testing.T) {
	requireKVM(t)
	code, out, errs := cli(t, "demo")
	if code != 0 || out != guests.HelloGreeting+"3\n" {
		t.Fatalf("demo: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestProbeReportsHost(t *testing.T) {
	requireKVM(t)
	code, out, errs := cli(t, "probe")
	if code != 0 || !strings.Contains(out, "KVM API version: 12") || !strings.Contains(out, "verdict: guest ring 0") {
		t.Fatalf("probe: exit %d\n%s\n%s", code, out, errs)
	}
	// On this project's hosts (kvm_pvm) the verdict must be "emulated".
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil && !strings.Contains(out, "verdict: guest ring 0 is emulated") {
		t.Fatalf("kvm_pvm host not reported as emulated:\n%s", out)
	}
}

func TestRawExitCodes(t *testing.T) {
	requireKVM(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"real mode hello", []string{"run", "-raw", write("real.bin", guests.RealMode), "-raw-mode", "real"}, 0},
		{"triple fault", []string{"run", "-raw", write("ud2.bin", guests.TripleFault), "-raw-mode", "user"}, 4},
		{"timeout", []string{"run", "-raw", write("spin.bin", guests.Spin), "-raw-mode", "user", "-timeout", "300ms"}, 124},
	} {
		if code, _, errs := cli(t, c.args...); code != c.code {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, c.code, errs)
		}
	}
}

func TestBadInputGetsOneLineAndExitCode(t *testing.T) {
	requireKVM(t)
	dir := t.TempDir()
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
	kernel := testKernel(t)

	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"fly"}, 2, "unknown command"},
		{"missing kernel", []string{"run", "-kernel", filepath.Join(dir, "nope")}, 1, "no such file or directory"},
		{"not a bzImage", []string{"run", "-kernel", notKernel}, 1, "neither a bzImage nor an ELF vmlinux"},
		{"truncated bzImage", []string{"run", "-kernel", truncated}, 1, "-kernel " + truncated},
		{"unparsable -m", []string{"run", "-kernel", kernel, "-m", "lots"}, 2, `-m "lots": not a size`},
		{"-m too small", []string{"run", "-kernel", kernel, "-m", "1M"}, 1, "too small"},
		{"initrd does not fit", []string{"run", "-kernel", kernel, "-m", "32M", "-initrd", big}, 1, "-initrd " + big},
		{"command line too long", []string{"run", "-kernel", kernel, "-append", strings.Repeat("x", 4096)}, 1, "command line"},
		{"kernel and raw", []string{"run", "-kernel", kernel, "-raw", kernel}, 2, "exactly one of -kernel and -raw"},
		{"bad -raw-mode", []string{"run", "-raw", kernel, "-raw-mode", "protected"}, 2, "-raw-mode"},
		{"bad -compat", []string{"run", "-kernel", kernel, "-compat", "maybe"}, 2, "-compat"},
		{"bad -disk", []string{"run", "-kernel", kernel, "-disk", "x,rw"}, 2, "-disk"},
		{"missing -disk file", []string{"run", "-kernel", kernel, "-disk", filepath.Join(dir, "nodisk")}, 1, "-disk"},
		{"unknown flag", []string{"run", "-cpus", "2"}, 2, "-cpus"},
	} {
		code, _, errs := cli(t, c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", c.name, code, c.code, errs)
			continue
		}
		if c.args == nil {
			continue // the usage text is several lines on purpose
		}
		oneLine(t, errs, c.want)
	}
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
