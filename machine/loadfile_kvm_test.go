//go:build kvm

package machine

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/compat"
)

// NewFromPlan reads the kernel and initrd from their files into the mapped
// guest RAM (loadfile_test.go checks the same without KVM), for every
// machine built from the Plan, and refuses a file changed since Plan.
func TestNewFromPlanLoadsTheFiles(t *testing.T) {
	requireKVM(t)
	dir := t.TempDir()
	img := bzImageWith(noise(200<<10, 14))
	initrd := noise(50000, 15)
	rd := writeFile(t, dir, "initrd", initrd)
	p, err := Config{MemSize: 64 << 20, Compat: compat.Off, Kernel: writeFile(t, dir, "bzImage", img), Initrd: rd}.Plan()
	if err != nil {
		t.Fatal(err)
	}
	for boot := 1; boot <= 2; boot++ {
		m, err := NewFromPlan(p)
		if err != nil {
			t.Fatalf("boot %d: %v", boot, err)
		}
		ram, err := m.Memory().Slice(0, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		// boot.rst: the protected-mode kernel, after the (setup_sects+1)
		// sectors, at 0x100000; ramdisk_image and ramdisk_size at 0x218
		// and 0x21C of the zero page.
		checkGuest(t, "kernel", ram, 0x100000, img[2*512:])
		zp := ram[p.entry.regs.RSI:]
		checkGuest(t, "initrd", ram, uint64(binary.LittleEndian.Uint32(zp[0x218:])), initrd)
		m.Close()
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(rd, later, later); err != nil {
		t.Fatal(err)
	}
	if m, err := NewFromPlan(p); err == nil {
		m.Close()
		t.Fatal("built a machine from a changed initrd")
	} else if !strings.HasPrefix(err.Error(), "-initrd "+rd+": the file changed") {
		t.Fatalf("error %q, want one naming -initrd %s", err, rd)
	}
}
