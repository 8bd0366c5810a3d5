package initramfs

import (
	"fmt"
	"path"
	"strings"
)

// cleanArchivePath turns a user-supplied archive path into the relative,
// slash-separated form stored in the archive ("/bin//sh" -> "bin/sh").
//
// A leading "/" is allowed and means the archive root. Rejected: the empty
// path, the root itself, any ".." element (even one that would cancel out,
// such as "a/../b": it is almost certainly a mistake), and NUL bytes, which
// would end the name early in the newc header.
func cleanArchivePath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("initramfs: archive path %q contains a NUL byte", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", fmt.Errorf("initramfs: archive path %q contains \"..\"", p)
		}
	}
	c := path.Clean("/" + p)[1:] // Clean of an absolute path never escapes "/".
	if c == "" {
		return "", fmt.Errorf("initramfs: archive path %q names the archive root, not a file", p)
	}
	return c, nil
}
