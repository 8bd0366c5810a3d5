//go:build nestedhost

package nestedhost_test

// These tests boot the real nested test host: QEMU TCG, Debian's kernel,
// kvm-amd. They run on the machine itself (not inside a VM) and need no
// /dev/kvm. testhosts runs them before the nested e2e run and counts them on
// its "nested" line.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var bin string // the static govmm-nested binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nestedhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "govmm-nested")
	build := exec.Command("go", "build", "-o", bin, "github.com/govmm/govmm/cmd/govmm-nested")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build govmm-nested: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// nested runs govmm-nested with args; tmp becomes its TMPDIR, so its run
// directory, and the QEMU command line that names it, are the test's own.
func nested(t *testing.T, tmp string, args ...string) (code int, stdout, stderr string, took time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String(), errb.String(), time.Since(start)
}

// qemuUnder lists the PIDs of QEMU processes whose command line names dir.
func qemuUnder(dir string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cl := string(b)
		if strings.Contains(cl, "qemu-system") && strings.Contains(cl, dir) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// noQEMULeft fails unless no QEMU process of dir exists within a second
// (a SIGKILLed process needs a moment to be reaped).
func noQEMULeft(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		pids := qemuUnder(dir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("QEMU processes left behind: %v", pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOutputAndExitStatusComeBack(t *testing.T) {
	tmp := t.TempDir()
	code, out, errs, took := nested(t, tmp, "-v", "--", "sh", "-c",
		`echo "to stdout"; echo "to stderr" >&2; printf 'no newline'; exit 7`)
	if code != 7 {
		t.Fatalf("exit %d, want 7\nstdout %q\nstderr %s", code, out, errs)
	}
	// stdout and stderr share the L1's serial console, byte for byte: no
	// "\r\n", no kernel messages.
	if out != "to stdout\nto stderr\nno newline" {
		t.Fatalf("output %q", out)
	}
	if !strings.Contains(errs, "ready after") {
		t.Fatalf("-v does not report the boot time:\n%s", errs)
	}
	noQEMULeft(t, tmp)
	t.Logf("echo and exit 7 through the nested host in %v", took.Round(time.Millisecond))
}

// TestTheL1IsAHardwareKVMHostWithThisMachinesFiles checks what the nested
// host promises: kvm-amd's /dev/kvm, the caller's directory and environment,
// this machine's files read-only, and fresh /tmp.
func TestTheL1IsAHardwareKVMHostWithThisMachinesFiles(t *testing.T) {
	tmp := t.TempDir()
	wd, _ := os.Getwd()
	// The host's /tmp is visible in the L1 (a CI checkout may live there),
	// and what the L1 writes there stays in its memory.
	hostFile := filepath.Join(tmp, "from-host")
	if err := os.WriteFile(hostFile, []byte("host data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Setenv("NESTEDHOST_TEST_HOSTFILE", hostFile)
	defer os.Unsetenv("NESTEDHOST_TEST_HOSTFILE")
	os.Setenv("NESTEDHOST_TEST_MARK", "it's here")
	defer os.Unsetenv("NESTEDHOST_TEST_MARK")
	script := `set -e
test -c /dev/kvm && echo "kvm: yes"
grep -qw svm /proc/cpuinfo && echo "cpu: svm"
echo "pwd: $(pwd)"
echo "mark: $NESTEDHOST_TEST_MARK"
test -f nested_test.go && echo "source: visible"
if touch /usr/.nestedhost-probe 2>/dev/null; then echo "root: WRITABLE"; else echo "root: read-only"; fi
touch nested_test.go.probe 2>/dev/null || true # read-only, or in memory under /tmp
touch /tmp/scratch && echo "tmp: writable"
cat "$NESTEDHOST_TEST_HOSTFILE"
echo "L1 data" > "$NESTEDHOST_TEST_HOSTFILE.l1" && cat "$NESTEDHOST_TEST_HOSTFILE.l1"
echo "uid: $(id -u)"`
	code, out, errs, _ := nested(t, tmp, "--", "sh", "-c", script)
	want := fmt.Sprintf("kvm: yes\ncpu: svm\npwd: %s\nmark: it's here\nsource: visible\nroot: read-only\ntmp: writable\nhost data\nL1 data\nuid: 0\n", wd)
	if code != 0 || out != want {
		t.Fatalf("exit %d\ngot:\n%s\nwant:\n%s\nstderr:\n%s", code, out, want, errs)
	}
	for _, p := range []string{"nested_test.go.probe", "/usr/.nestedhost-probe"} {
		if _, err := os.Stat(p); err == nil {
			os.Remove(p)
			t.Fatalf("the L1 wrote %s on this machine", p)
		}
	}
	if _, err := os.Stat(hostFile + ".l1"); err == nil {
		t.Fatal("a file the L1 wrote in /tmp reached this machine's /tmp")
	}
}

func TestTimeoutStopsAHangingCommand(t *testing.T) {
	tmp := t.TempDir()
	code, _, errs, took := nested(t, tmp, "-timeout", "20s", "--", "sleep", "600")
	if code != 124 || !strings.Contains(errs, "timed out after 20s") {
		t.Fatalf("exit %d, want 124\n%s", code, errs)
	}
	if took > 25*time.Second {
		t.Fatalf("-timeout 20s took %v", took)
	}
	noQEMULeft(t, tmp)
	t.Logf("-timeout 20s: exit 124 after %v", took.Round(time.Millisecond))
}

// TestStoppedOrKilledRunnerLeavesNoQEMU: SIGTERM ends the run with 143, and
// SIGKILL, which govmm-nested cannot catch, still takes QEMU with it
// (PR_SET_PDEATHSIG).
func TestStoppedOrKilledRunnerLeavesNoQEMU(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGTERM, 143}, {syscall.SIGKILL, -1}} {
		tmp := t.TempDir()
		cmd := exec.Command(bin, "--", "sleep", "600")
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for len(qemuUnder(tmp)) == 0 {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("%v: QEMU never started:\n%s", c.sig, errb.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second) // let it boot a little
		cmd.Process.Signal(c.sig)
		cmd.Wait()
		if got := cmd.ProcessState.ExitCode(); got != c.code {
			t.Errorf("%v: exit %d, want %d\n%s", c.sig, got, c.code, errb.String())
		}
		noQEMULeft(t, tmp)
		if ents, _ := os.ReadDir(tmp); c.sig == syscall.SIGTERM && len(ents) != 0 {
			t.Errorf("%v: left %d files in its TMPDIR", c.sig, len(ents))
		}
	}
}
