//go:build kvm

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/kvmtest"
)

// paths holds the artefacts every test uses.
var paths struct {
	bin, bzImage, vmlinux, initramfs, init string
}

func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func setup() error {
	tmp, err := os.MkdirTemp("", "govmm-e2e-")
	if err != nil {
		return err
	}
	paths.bin = os.Getenv("GOVMM_BIN")
	if paths.bin == "" {
		paths.bin = filepath.Join(tmp, "govmm")
		cmd := exec.Command("go", "build", "-o", paths.bin, "./cmd/govmm")
		cmd.Dir = repoRoot()
		// Static, as make build: govmm exec boots it as the guest's /init.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	kdir := os.Getenv("GOVMM_KERNEL_DIR")
	if kdir == "" {
		out, err := exec.Command(filepath.Join(repoRoot(), "scripts/build-kernel.sh"), "--print-dir").Output()
		if err != nil {
			return fmt.Errorf("scripts/build-kernel.sh --print-dir: %v", err)
		}
		kdir = strings.TrimSpace(string(out))
	}
	paths.bzImage = filepath.Join(kdir, "bzImage")
	paths.vmlinux = filepath.Join(kdir, "vmlinux")
	paths.init = filepath.Join(tmp, "init")
	cc := exec.Command("gcc", "-static", "-nostdlib", "-ffreestanding", "-Os", "-fno-pie", "-no-pie",
		"-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-Wl,--build-id=none",
		"-o", paths.init, filepath.Join(repoRoot(), "testdata/init/init.c"))
	if out, err := cc.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc init.c: %v\n%s", err, out)
	}
	paths.initramfs = os.Getenv("GOVMM_INITRAMFS")
	if paths.initramfs == "" {
		paths.initramfs = filepath.Join(tmp, "initramfs.cpio")
		if out, err := exec.Command(paths.bin, "initramfs", "-o", paths.initramfs, "-init", paths.init).CombinedOutput(); err != nil {
			return fmt.Errorf("govmm initramfs: %v\n%s", err, out)
		}
	}
	return nil
}

// requireKernel fails (never skips) when the test kernel is missing, logs
// the host the test runs on, and returns it. Where /dev/kvm cannot be opened
// it fails in CI and skips only on a developer's machine (package kvmtest).
func requireKernel(t *testing.T) kvmtest.Host {
	t.Helper()
	h := kvmtest.Require(t)
	for _, p := range []string{paths.bzImage, paths.vmlinux} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("test kernel missing (%v): run `make kernel` or `make test`", err)
		}
	}
	return h
}

// run is one govmm process with its console captured line by line, each
// line stamped with the time since start.
type run struct {
	code    int
	out     string // stdout: the guest console
	stderr  string
	elapsed time.Duration
	firstAt map[string]time.Duration // first time each watched marker appeared
	started time.Time                // the host's wall clock when govmm started
}

// govmm runs the binary with args and waits for it. watch lists console
// markers whose first appearance time is recorded.
func govmm(t *testing.T, limit time.Duration, watch []string, args ...string) *run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, paths.bin, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &run{firstAt: map[string]time.Duration{}}
	start := time.Now()
	r.started = start
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		for _, w := range watch {
			if _, seen := r.firstAt[w]; !seen && strings.Contains(line, w) {
				r.firstAt[w] = time.Since(start)
			}
		}
	}
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	r.elapsed = time.Since(start)
	r.out, r.stderr = out.String(), errb.String()
	r.code = cmd.ProcessState.ExitCode()
	if ctx.Err() != nil {
		t.Fatalf("govmm %s did not exit within %v (hang)\nconsole tail:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, tail(r.out, 30), r.stderr)
	}
	_ = err
	return r
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// inOrder checks that each marker appears in out after the previous one and
// returns the first that does not.
func inOrder(out string, markers ...string) (missing string, ok bool) {
	pos := 0
	for _, m := range markers {
		i := strings.Index(out[pos:], m)
		if i < 0 {
			return m, false
		}
		pos += i + len(m)
	}
	return "", true
}
