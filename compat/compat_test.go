package compat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govmm/govmm/kvm"
)

func TestFixupTable(t *testing.T) {
	pad := func(b ...byte) []byte { return append(b, make([]byte, 16-len(b))...) }
	for _, c := range []struct {
		name   string
		code   []byte
		stuck  bool
		want   Action
		wantOK bool
	}{
		{"int3", pad(0xcc), false, Action{Name: "int3", Skip: 1, Inject: 3}, true},
		{"fwait", pad(0x9b), false, Action{Name: "fwait", Skip: 1, Inject: -1}, true},
		// int 3 spelled cd 03 is not the one-byte breakpoint and is left alone.
		{"int 0x3 (cd 03)", pad(0xcd, 0x03), false, Action{}, false},
		// lock cmpxchg16b [rdi]: not fixable, masked through CPUID instead.
		{"cmpxchg16b", pad(0xf0, 0x48, 0x0f, 0xc7, 0x0f), false, Action{}, false},
		{"vmcall stuck", pad(0x0f, 0x01, 0xc1), true, Action{Name: "vmcall", Skip: 3, Inject: -1, SetRAX: true, RAX: 0xfffffffffffffc18}, true},
		{"vmmcall stuck", pad(0x0f, 0x01, 0xd9), true, Action{Name: "vmcall", Skip: 3, Inject: -1, SetRAX: true, RAX: 0xfffffffffffffc18}, true},
		{"nop stuck", pad(0x90), true, Action{}, false},
	} {
		var got Action
		var ok bool
		if c.stuck {
			got, ok = OnStuck(c.code, 64)
		} else {
			got, ok = OnEmulationFailure(c.code, 64)
		}
		if ok != c.wantOK || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.wantOK)
		}
	}
	if v := kvmENOSYS; int64(v) != -1000 {
		t.Fatalf("-KVM_ENOSYS = %d", int64(v))
	}
}

func TestDescribe(t *testing.T) {
	code := []byte{0xf0, 0x48, 0x0f, 0xc7, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if d := Describe(code, 64); !strings.Contains(d, "cmpxchg16b") {
		t.Fatalf("Describe = %q", d)
	}
	if d := Describe([]byte{0x0f, 0x01, 0xc1}, 64); d != "vmcall" {
		t.Fatalf("Describe vmcall = %q", d)
	}
}

func TestAdjustCPUID(t *testing.T) {
	entries := []kvm.CPUIDEntry{
		{Function: 0, EAX: 0xd},
		{Function: 1, ECX: 1<<13 | 1<<23 | 1<<31 | 1<<26, EDX: 0xffff},
	}
	changes := AdjustCPUID(entries)
	if len(changes) != 2 {
		t.Fatalf("changes: %q", changes)
	}
	// CX16 is CPUID.1:ECX[13] and POPCNT CPUID.1:ECX[23] (SDM vol. 2A, CPUID).
	if entries[1].ECX != 1<<31|1<<26 || entries[1].EDX != 0xffff || entries[0].EAX != 0xd {
		t.Fatalf("after masking: %+v", entries)
	}
	if len(AdjustCPUID(entries)) != 0 {
		t.Fatal("second pass changed something")
	}
}

func TestDetectHost(t *testing.T) {
	defer func(s string) { sysRoot = s }(sysRoot)
	for _, c := range []struct {
		name     string
		module   bool
		flags    string
		emulated bool
	}{
		{"pvm module", true, "fpu vmx sse", true},
		{"vmx", false, "fpu vmx sse", false},
		{"svm", false, "fpu svm", false},
		{"neither", false, "fpu sse", true},
	} {
		root := t.TempDir()
		if c.module {
			os.MkdirAll(filepath.Join(root, "sys/module/kvm_pvm"), 0o755)
		}
		os.MkdirAll(filepath.Join(root, "proc"), 0o755)
		os.WriteFile(filepath.Join(root, "proc/cpuinfo"), []byte("processor\t: 0\nflags\t\t: "+c.flags+"\n"), 0o644)
		sysRoot = root + "/"
		if h := DetectHost(); h.EmulatedRing0 != c.emulated || h.Why == "" {
			t.Errorf("%s: %+v", c.name, h)
		}
	}
}

func TestModes(t *testing.T) {
	for s, want := range map[string]Mode{"auto": Auto, "on": On, "off": Off} {
		m, err := ParseMode(s)
		if err != nil || m != want || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("yes"); err == nil {
		t.Error("ParseMode(yes) accepted")
	}
	emu := HostInfo{EmulatedRing0: true}
	if !Enabled(Auto, emu) || Enabled(Auto, HostInfo{}) || !Enabled(On, HostInfo{}) || Enabled(Off, emu) {
		t.Error("Enabled")
	}
	p, r := KernelParams()
	if len(p) != len(r) || !strings.Contains(strings.Join(p, " "), "noxsave") {
		t.Errorf("KernelParams = %q", p)
	}
}
