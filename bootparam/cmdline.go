package bootparam

import (
	"fmt"
	"strings"
)

// CheckCmdline reports whether cmdline fits the kernel: its length without
// the terminating NUL must be at most cmdline_size (boot.rst: "The Kernel
// Command Line"; the kernel would silently truncate a longer one), and it must
// not contain a NUL byte, which would end it early.
func CheckCmdline(img *BzImage, cmdline string) error {
	if uint64(len(cmdline)) > uint64(img.CmdlineSize) {
		return fmt.Errorf("kernel command line is %d bytes; this kernel accepts at most %d", len(cmdline), img.CmdlineSize)
	}
	if i := strings.IndexByte(cmdline, 0); i >= 0 {
		return fmt.Errorf("kernel command line contains a NUL byte at offset %d", i)
	}
	return nil
}
