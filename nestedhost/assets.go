package nestedhost

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Assets are the files a nested run needs, all on this machine.
type Assets struct {
	// QEMU is the qemu-system-x86_64 binary.
	QEMU string
	// Kernel is the L1's vmlinuz (Debian's stock kernel).
	Kernel string
	// Modules are the .ko files the L1 loads, in load order.
	Modules []string
	// Version names the kernel package the files came from.
	Version string
}

const (
	qemuBinary  = "qemu-system-x86_64"
	qemuPackage = "qemu-system-x86"
	// kernelMeta is Debian's metapackage that depends on the current
	// linux-image-<abi>-amd64 package.
	kernelMeta = "linux-image-amd64"
	// completeMark is written last into a cache entry: a directory without
	// it is a download that did not finish.
	completeMark = "complete"
)

// EnsureAssets finds or installs QEMU and finds or downloads the L1 kernel
// into cacheDir, saying what it does on log. The kernel download happens once:
// a later run reuses the newest complete cache entry.
func EnsureAssets(cacheDir string, log io.Writer) (Assets, error) {
	var a Assets
	q, err := ensureQEMU(log)
	if err != nil {
		return a, err
	}
	a.QEMU = q
	dir, err := cachedKernel(cacheDir)
	if err != nil {
		return a, err
	}
	if dir == "" {
		if dir, err = downloadKernel(cacheDir, log); err != nil {
			return a, err
		}
	}
	a.Version = strings.TrimPrefix(filepath.Base(dir), "l1-")
	a.Kernel = filepath.Join(dir, "vmlinuz")
	mods, err := filepath.Glob(filepath.Join(dir, "modules", "*.ko"))
	if err != nil {
		return a, err
	}
	sort.Strings(mods) // the NN- prefixes keep the load order
	a.Modules = mods
	return a, nil
}

// ensureQEMU returns the QEMU binary, installing Debian's package (without
// its recommended GUI packages) when it is missing.
func ensureQEMU(log io.Writer) (string, error) {
	if p, err := exec.LookPath(qemuBinary); err == nil {
		return p, nil
	}
	fmt.Fprintf(log, "nestedhost: installing %s with apt-get (once)\n", qemuPackage)
	if err := aptGet(log, "update", "-qq"); err != nil {
		return "", fmt.Errorf("nestedhost: %s is missing and apt-get update failed: %w", qemuBinary, err)
	}
	if err := aptGet(log, "install", "-y", "-qq", "--no-install-recommends", qemuPackage); err != nil {
		return "", fmt.Errorf("nestedhost: %s is missing and apt-get could not install %s: %w", qemuBinary, qemuPackage, err)
	}
	return exec.LookPath(qemuBinary)
}

// aptGet runs apt-get non-interactively with its output on log.
func aptGet(log io.Writer, args ...string) error {
	cmd := exec.Command("apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log.Write(out.Bytes())
		return err
	}
	return nil
}

// markText is what completeMark holds: the package, and the modules kept,
// so that a change to WantedModules fetches a new entry.
func markText(name, version string) string {
	return name + " " + version + "\nmodules " + strings.Join(WantedModules, ",") + "\n"
}

// cachedKernel returns the newest complete L1 kernel entry in cacheDir that
// holds today's WantedModules, or "".
func cachedKernel(cacheDir string) (string, error) {
	entries, err := filepath.Glob(filepath.Join(cacheDir, "l1-*", completeMark))
	if err != nil {
		return "", err
	}
	sort.Strings(entries)
	for i := len(entries) - 1; i >= 0; i-- {
		b, err := os.ReadFile(entries[i])
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(b), "\n")
		name, version, _ := strings.Cut(first, " ")
		if string(b) == markText(name, version) {
			return filepath.Dir(entries[i]), nil
		}
	}
	return "", nil
}

// kernelPackage asks apt which linux-image-<abi>-amd64 package the
// metapackage stands for, and its version.
func kernelPackage(log io.Writer) (name, version string, err error) {
	for attempt := 0; attempt < 2; attempt++ {
		out, _ := exec.Command("apt-cache", "depends", kernelMeta).Output()
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if p, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: "); ok && strings.HasPrefix(p, "linux-image-") {
				name = p
				break
			}
		}
		if name != "" {
			break
		}
		if attempt == 0 {
			fmt.Fprintf(log, "nestedhost: apt knows no %s; running apt-get update\n", kernelMeta)
			if err := aptGet(log, "update", "-qq"); err != nil {
				return "", "", fmt.Errorf("nestedhost: apt-get update: %w", err)
			}
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("nestedhost: apt-cache depends %s names no linux-image package", kernelMeta)
	}
	out, err := exec.Command("apt-cache", "show", "--no-all-versions", name).Output()
	if err != nil {
		return "", "", fmt.Errorf("nestedhost: apt-cache show %s: %w", name, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			return name, strings.TrimSpace(v), nil
		}
	}
	return "", "", fmt.Errorf("nestedhost: apt-cache show %s gives no version", name)
}

// downloadKernel fetches the kernel package with apt-get download, extracts
// it with dpkg-deb, and keeps only vmlinuz and the modules the L1 loads (a
// few MiB of the package's 400). It returns the new cache entry.
func downloadKernel(cacheDir string, log io.Writer) (string, error) {
	name, version, err := kernelPackage(log)
	if err != nil {
		return "", err
	}
	dest := filepath.Join(cacheDir, "l1-"+name+"_"+version)
	fmt.Fprintf(log, "nestedhost: downloading %s %s (once; cached in %s)\n", name, version, dest)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("nestedhost: cache: %w", err)
	}
	work, err := os.MkdirTemp(cacheDir, "download-")
	if err != nil {
		return "", fmt.Errorf("nestedhost: cache: %w", err)
	}
	defer os.RemoveAll(work)
	get := exec.Command("apt-get", "download", "-qq", name+"="+version)
	get.Dir = work
	if out, err := get.CombinedOutput(); err != nil {
		return "", fmt.Errorf("nestedhost: apt-get download %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	debs, _ := filepath.Glob(filepath.Join(work, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("nestedhost: apt-get download %s left %d .deb files", name, len(debs))
	}
	x := filepath.Join(work, "x")
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], x).CombinedOutput(); err != nil {
		return "", fmt.Errorf("nestedhost: dpkg-deb -x %s: %v: %s", debs[0], err, out)
	}
	kernels, _ := filepath.Glob(filepath.Join(x, "boot", "vmlinuz-*"))
	modRoots, _ := filepath.Glob(filepath.Join(x, "lib", "modules", "*"))
	if len(kernels) != 1 || len(modRoots) != 1 {
		return "", fmt.Errorf("nestedhost: %s holds %d kernels and %d module trees, want 1 and 1", name, len(kernels), len(modRoots))
	}
	idx, err := moduleIndex(modRoots[0])
	if err != nil {
		return "", fmt.Errorf("nestedhost: %w", err)
	}
	order, err := LoadOrder(WantedModules, idx, moduleDepends)
	if err != nil {
		return "", fmt.Errorf("nestedhost: %s: %w", name, err)
	}
	stage := filepath.Join(work, "entry")
	if err := os.MkdirAll(filepath.Join(stage, "modules"), 0o755); err != nil {
		return "", err
	}
	if err := copyFile(kernels[0], filepath.Join(stage, "vmlinuz")); err != nil {
		return "", err
	}
	for i, p := range order {
		if err := copyFile(p, filepath.Join(stage, "modules", fmt.Sprintf("%02d-%s", i, filepath.Base(p)))); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(stage, completeMark), []byte(markText(name, version)), 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(dest)
	if err := os.Rename(stage, dest); err != nil {
		return "", fmt.Errorf("nestedhost: cache: %w", err)
	}
	return dest, nil
}

// copyFile copies a regular file.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// errNotStatic is returned for an /init binary that needs a dynamic loader.
var errNotStatic = errors.New("is dynamically linked; the L1's /init must be static (build it with CGO_ENABLED=0)")
