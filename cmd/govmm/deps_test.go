package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// bannedDeps are packages govmm must not link, each with the reason. Their
// cost is resident memory in every govmm process (make bench, row 9).
var bannedDeps = []struct{ prefix, why string }{
	{"gvisor.dev/", "user-mode networking runs in cmd/govmm-usernet; linked into govmm, gVisor's text and package inits cost every process about 1.2 MiB"},
	{"github.com/insomniacslk/", "the DHCP server belongs to cmd/govmm-usernet"},
	{"crypto/", "crypto/* links Go's FIPS entropy source, a 32 MiB BSS array that a host with transparent huge pages backs with a 2 MiB page"},
}

// TestGovmmLinksNoHeavyDependencies keeps the packages above out of the
// govmm binary.
func TestGovmmLinksNoHeavyDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/govmm/govmm/cmd/govmm").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps gave %d packages; it did not list govmm's dependencies", len(deps))
	}
	for _, d := range deps {
		for _, b := range bannedDeps {
			if strings.HasPrefix(d, b.prefix) {
				t.Errorf("govmm links %s: %s", d, b.why)
			}
		}
	}
}
