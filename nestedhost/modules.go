package nestedhost

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// WantedModules are the modules the L1 loads, by name: kvm-amd for
// /dev/kvm, virtio-pci plus 9p for the host's files, overlay to lay a
// tmpfs over the host's /tmp, and tun for /dev/net/tun (the tap network
// tests). Their dependencies (kvm, ccp, irqbypass, virtio_ring, netfs, ...)
// are found in .modinfo.
var WantedModules = []string{"kvm_amd", "virtio_pci", "9pnet_virtio", "9p", "overlay", "tun"}

// modName normalises a module name as the kernel does: '-' and '_' are the
// same character in module names (kernel/module/main.c).
func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// moduleIndex maps each module name under root (a lib/modules/VERSION tree)
// to its .ko path.
func moduleIndex(root string) (map[string]string, error) {
	idx := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			idx[modName(strings.TrimSuffix(d.Name(), ".ko"))] = p
		}
		return nil
	})
	return idx, err
}

// moduleDepends reads the "depends=" entry of a module's .modinfo section:
// NUL-separated key=value strings that modpost writes into every .ko.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .modinfo section", path)
	}
	b, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: .modinfo: %w", path, err)
	}
	var deps []string
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "depends="); ok && v != "" {
			for _, d := range strings.Split(v, ",") {
				deps = append(deps, modName(d))
			}
		}
	}
	return deps, nil
}

// LoadOrder returns the .ko paths to load, dependencies first, so that
// every module in wanted loads with finit_module alone (no modprobe). deps
// says what each module depends on; paths where each module is.
func LoadOrder(wanted []string, paths map[string]string, deps func(path string) ([]string, error)) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var order []string
	var visit func(name, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module dependency cycle at %s", name)
		}
		p, ok := paths[name]
		if !ok {
			if from == "" {
				return fmt.Errorf("module %s not found", name)
			}
			return fmt.Errorf("module %s (needed by %s) not found", name, from)
		}
		state[name] = visiting
		ds, err := deps(p)
		if err != nil {
			return err
		}
		sort.Strings(ds)
		for _, d := range ds {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, p)
		return nil
	}
	for _, w := range wanted {
		if err := visit(modName(w), ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}
