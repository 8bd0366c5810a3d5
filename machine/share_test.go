package machine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govmm/govmm/compat"
)

// Shares are checked by Plan, before KVM: directories that exist, valid
// and distinct tags, writable unless read-only.
func TestPlanChecksShares(t *testing.T) {
	f := makeBadConfigFiles(t)
	dir := t.TempDir()
	base := Config{MemSize: 64 << 20, Kernel: f.kernel}
	for name, c := range map[string]struct {
		shares []Share
		want   string
	}{
		"missing":        {[]Share{{Dir: filepath.Join(dir, "nope"), Tag: "a"}}, "no such file or directory"},
		"file":           {[]Share{{Dir: f.kernel, Tag: "a", ReadOnly: true}}, "not a directory"},
		"empty tag":      {[]Share{{Dir: dir}}, "tag="},
		"long tag":       {[]Share{{Dir: dir, Tag: strings.Repeat("t", 32)}}, "tag="},
		"tag twice":      {[]Share{{Dir: dir, Tag: "a"}, {Dir: f.dir, Tag: "a", ReadOnly: true}}, "already the tag"},
		"read-only dir":  {[]Share{{Dir: "/proc/self", Tag: "a"}}, "add ,ro"},
		"too many slots": {make([]Share, 40), "PCI bus 0 has room"},
	} {
		cfg := base
		cfg.Shares = c.shares
		if _, err := cfg.Plan(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	cfg := base
	cfg.Shares = []Share{{Dir: dir, Tag: "root", ReadOnly: true}, {Dir: f.dir, Tag: "/dev/root"}}
	if _, err := cfg.Plan(); err != nil {
		t.Errorf("good shares: %v", err)
	}
}

// An initrd from memory is laid out like one from a file.
func TestPlanInitrdImage(t *testing.T) {
	f := makeBadConfigFiles(t)
	img := bytes.Repeat([]byte{0xA5}, 8192)
	p, err := Config{MemSize: 64 << 20, Kernel: f.kernel, InitrdImage: img, Compat: compat.Off}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range p.chunks {
		if bytes.Equal(c.data, img) && c.addr == 64<<20-8192 {
			found = true
		}
	}
	if !found {
		t.Error("the in-memory initrd is not at the top of RAM")
	}
	b, _ := os.ReadFile(f.kernel)
	for name, cfg := range map[string]Config{
		"file and image":   {MemSize: 64 << 20, Kernel: f.kernel, Initrd: f.disk, InitrdImage: img},
		"image, no kernel": {MemSize: 16 << 20, RawImage: b, InitrdImage: img},
	} {
		if _, err := cfg.Plan(); err == nil || !strings.Contains(err.Error(), "-initrd") {
			t.Errorf("%s: %v, want an -initrd error", name, err)
		}
	}
}
