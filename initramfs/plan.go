package initramfs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"sort"

	"github.com/u-root/u-root/pkg/cpio"
)

// Device numbers of /dev/console (Documentation/admin-guide/devices.txt).
const (
	consoleMajor = 5
	consoleMinor = 1
)

// entry is one record of the archive to be, before any byte is written.
type entry struct {
	name   string // cleaned archive path, "." for the root
	mode   uint64 // file type and permission bits, as in a newc header
	rmajor uint64 // device numbers, for character devices
	rminor uint64
	data   []byte // contents held in memory (/init)

	// For a file copied from the host: where it comes from, how big it
	// was when checked, and the DEST=SRC pair to name in errors.
	hostPath string
	size     int64
	arg      string
}

// isDir reports whether e is a directory.
func (e entry) isDir() bool { return e.mode&cpio.S_IFMT == cpio.S_IFDIR }

// plan checks s and returns every record of the archive in write order: the
// root first, then sorted by path, which puts each directory before its
// contents. It opens each host file once to check it, and keeps none open.
func plan(s Spec) ([]entry, error) {
	if len(s.Init) == 0 {
		return nil, errors.New("initramfs: Spec.Init is empty: the archive needs an /init program")
	}
	byName := map[string]entry{
		".":           dirEntry("."),
		"dev":         dirEntry("dev"),
		"dev/console": {name: "dev/console", mode: cpio.S_IFCHR | 0o600, rmajor: consoleMajor, rminor: consoleMinor},
		"init":        {name: "init", mode: cpio.S_IFREG | 0o755, data: s.Init},
	}

	// Pass 1: the host files, in sorted order so errors are deterministic.
	dests := make([]string, 0, len(s.Files))
	for d := range s.Files {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	var files []entry
	for _, dest := range dests {
		e, err := hostEntry(dest, s.Files[dest])
		if err != nil {
			return nil, err
		}
		if old, ok := byName[e.name]; ok {
			if old.arg != "" {
				return nil, fmt.Errorf("initramfs: %s and %s name the same archive path %q", old.arg, e.arg, e.name)
			}
			return nil, fmt.Errorf("initramfs: %s: archive path %q is built in and cannot be replaced", e.arg, e.name)
		}
		byName[e.name] = e
		files = append(files, e)
	}

	// Pass 1b: the in-memory files.
	dests = dests[:0]
	for d := range s.Data {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, dest := range dests {
		name, err := cleanArchivePath(dest)
		if err != nil {
			return nil, err
		}
		if len(s.Data[dest]) > math.MaxUint32 {
			return nil, fmt.Errorf("initramfs: %s: %d bytes; a newc record holds at most %d", dest, len(s.Data[dest]), uint64(math.MaxUint32))
		}
		if old, ok := byName[name]; ok {
			if old.arg != "" {
				return nil, fmt.Errorf("initramfs: %s and in-memory %s name the same archive path %q", old.arg, dest, name)
			}
			return nil, fmt.Errorf("initramfs: in-memory %s: archive path %q is built in and cannot be replaced", dest, name)
		}
		// data must not be nil: writeEntries tells files from
		// directories by it.
		e := entry{name: name, mode: cpio.S_IFREG | 0o644, data: append([]byte{}, s.Data[dest]...), arg: dest + " (in memory)"}
		byName[name] = e
		files = append(files, e)
	}

	// Pass 2: the directories those files need.
	for _, f := range files {
		for dir := path.Dir(f.name); dir != "."; dir = path.Dir(dir) {
			old, ok := byName[dir]
			if !ok {
				byName[dir] = dirEntry(dir)
				continue
			}
			if !old.isDir() {
				return nil, fmt.Errorf("initramfs: %s: archive path %q needs %q to be a directory, but it is a file", f.arg, f.name, dir)
			}
		}
	}

	out := make([]entry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].name, out[j].name
		if a == "." || b == "." {
			return a == "." && b != "."
		}
		return a < b // a prefix sorts first, so "a" comes before "a/b"
	})
	return out, nil
}

// dirEntry returns a directory entry with the usual mode 0755.
func dirEntry(name string) entry {
	return entry{name: name, mode: cpio.S_IFDIR | 0o755}
}

// hostEntry checks one DEST=SRC pair of Spec.Files: a valid archive path and
// a readable regular host file that fits in a newc record.
func hostEntry(dest, src string) (entry, error) {
	arg := dest + "=" + src
	name, err := cleanArchivePath(dest)
	if err != nil {
		return entry{}, err
	}
	f, err := os.Open(src)
	if err != nil {
		return entry{}, fmt.Errorf("initramfs: %s: %w", arg, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return entry{}, fmt.Errorf("initramfs: %s: %w", arg, err)
	}
	if fi.IsDir() {
		return entry{}, fmt.Errorf("initramfs: %s: %s is a directory, not a regular file", arg, src)
	}
	if !fi.Mode().IsRegular() {
		return entry{}, fmt.Errorf("initramfs: %s: %s is not a regular file (mode %v)", arg, src, fi.Mode())
	}
	if fi.Size() > math.MaxUint32 {
		return entry{}, fmt.Errorf("initramfs: %s: %s is %d bytes; a newc record holds at most %d", arg, src, fi.Size(), uint64(math.MaxUint32))
	}
	return entry{
		name:     name,
		mode:     cpio.S_IFREG | uint64(fi.Mode().Perm()),
		hostPath: src,
		size:     fi.Size(),
		arg:      arg,
	}, nil
}
