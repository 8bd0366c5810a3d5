//go:build kvm

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/govmm/govmm/internal/kvmtest"
)

// TestQuickSuite runs the whole suite with -quick, so that `go test ./...`
// (make test) catches a row that no longer runs. It skips under -short; it is
// built only with the kvm tag (package kvmtest).
func TestQuickSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short: the quick benchmark suite runs VMs")
	}
	kvmtest.Require(t)
	var out, errb strings.Builder
	// Reuse what make test built (GOVMM_BIN, ...): on the nested host the
	// Go build cache is read-only, and rebuilding there is slow anyway.
	args := []string{"-quick", "-build-dir", t.TempDir()}
	for flag, env := range map[string]string{"-govmm": "GOVMM_BIN", "-kernel-dir": "GOVMM_KERNEL_DIR", "-initramfs": "GOVMM_INITRAMFS"} {
		if v := os.Getenv(env); v != "" {
			args = append(args, flag, v)
		}
	}
	code := run(args, &out, &errb)
	t.Logf("table:\n%s", out.String())
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errb.String())
	}
	table := out.String()
	for _, row := range []string{"1 PIO exit", "2 virtqueue kick", "3 start-up", "4 memory overhead", "5 virtio-blk sequential read", "6 Linux boot"} {
		if !strings.Contains(table, "\n"+row) {
			t.Errorf("no row %q in the table", row)
		}
	}
	if strings.Contains(table, "ERROR") {
		t.Error("a row broke")
	}
	if !strings.Contains(errb.String(), "bench [") {
		t.Error("no progress lines on stderr")
	}
}
