package initramfs

import (
	"fmt"
	"strings"
)

// ParseFileArgs parses the CLI's DEST=SRC arguments into a Spec.Files map:
// DEST is the path inside the archive, SRC the host file. The split is at the
// first "=", so SRC may itself contain "=". DEST must be a valid archive path,
// and two arguments may not name the same one.
//
// An argument that starts with "-" is rejected, because it is almost surely a
// flag placed after the first DEST=SRC (Go's flag package stops at the first
// non-flag argument).
func ParseFileArgs(args []string) (map[string]string, error) {
	files := make(map[string]string, len(args))
	seen := make(map[string]string, len(args)) // cleaned DEST -> argument
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("initramfs: argument %q looks like a flag: put flags before the DEST=SRC arguments", a)
		}
		dest, src, ok := strings.Cut(a, "=")
		if !ok || dest == "" || src == "" {
			return nil, fmt.Errorf("initramfs: argument %q is not DEST=SRC", a)
		}
		name, err := cleanArchivePath(dest)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("initramfs: arguments %q and %q name the same archive path %q", prev, a, name)
		}
		seen[name] = a
		files[dest] = src
	}
	return files, nil
}
