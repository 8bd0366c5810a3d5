package nestedhost

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLoadOrderPutsDependenciesFirst(t *testing.T) {
	// kvm-amd's real dependencies in Debian's 6.1 kernel (modinfo -F depends).
	deps := map[string][]string{
		"/m/kvm-amd.ko":   {"kvm", "ccp"},
		"/m/kvm.ko":       {"irqbypass"},
		"/m/ccp.ko":       nil,
		"/m/irqbypass.ko": nil,
		"/m/9p.ko":        {"9pnet", "netfs", "fscache"},
		"/m/9pnet.ko":     nil,
		"/m/netfs.ko":     nil,
		"/m/fscache.ko":   {"netfs"},
	}
	paths := map[string]string{}
	for p := range deps {
		paths[modName(strings.TrimSuffix(strings.TrimPrefix(p, "/m/"), ".ko"))] = p
	}
	got, err := LoadOrder([]string{"kvm-amd", "9p"}, paths, func(p string) ([]string, error) { return deps[p], nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/m/ccp.ko", "/m/irqbypass.ko", "/m/kvm.ko", "/m/kvm-amd.ko",
		"/m/9pnet.ko", "/m/netfs.ko", "/m/fscache.ko", "/m/9p.ko"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order\n%v\nwant\n%v", got, want)
	}
}

func TestLoadOrderErrors(t *testing.T) {
	paths := map[string]string{"a": "/a.ko", "b": "/b.ko"}
	cycle := func(p string) ([]string, error) {
		return map[string][]string{"/a.ko": {"b"}, "/b.ko": {"a"}}[p], nil
	}
	if _, err := LoadOrder([]string{"a"}, paths, cycle); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	missing := func(p string) ([]string, error) { return []string{"c"}, nil }
	if _, err := LoadOrder([]string{"a"}, paths, missing); err == nil || !strings.Contains(err.Error(), "module c (needed by a) not found") {
		t.Errorf("missing dependency: %v", err)
	}
	if _, err := LoadOrder([]string{"zz"}, paths, missing); err == nil || !strings.Contains(err.Error(), "module zz not found") {
		t.Errorf("missing module: %v", err)
	}
	broken := func(p string) ([]string, error) { return nil, errors.New("bad ELF") }
	if _, err := LoadOrder([]string{"a"}, paths, broken); err == nil || err.Error() != "bad ELF" {
		t.Errorf("unreadable module: %v", err)
	}
}

func TestQEMUArgsEmulateAMDVAndShareTheRootReadOnly(t *testing.T) {
	o := Options{CPUs: 2, Memory: "4G", Assets: Assets{Kernel: "/k/vmlinuz"}}
	args := strings.Join(qemuArgs(o, "/r.cpio", "/run", "/run.console"), " ")
	for _, want := range []string{
		"-accel tcg,thread=multi -cpu max", // TCG's "max" CPU has svm and npt
		"-no-reboot",
		"-kernel /k/vmlinuz -initrd /r.cpio",
		"console=ttyS1",
		"-serial stdio -serial file:/run.console",
		"local,path=/,mount_tag=hostroot,security_model=none,readonly=on",
		"local,path=/run,mount_tag=nestedrun,security_model=none,multidevs=remap",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("QEMU args lack %q:\n%s", want, args)
		}
	}
}

func TestCheckStaticRefusesADynamicBinary(t *testing.T) {
	if err := checkStatic("/bin/sh"); !errors.Is(err, errNotStatic) {
		t.Fatalf("/bin/sh: %v", err)
	}
	if err := checkStatic("/nonexistent"); err == nil {
		t.Fatal("a missing init accepted")
	}
}
