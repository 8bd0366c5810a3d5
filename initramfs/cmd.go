package initramfs

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/govmm/govmm/guests"
)

// usage is the text printed for -h.
const usage = `usage: govmm initramfs -o OUT.cpio [-init FILE] [DEST=SRC ...]

Writes an uncompressed newc initramfs holding /dev, /dev/console (5,1),
/init (from FILE, mode 0755) and each host file SRC at archive path DEST.
Flags come before the DEST=SRC arguments.

  -o FILE     output archive (written atomically)
  -init FILE  program to run as /init (default: the built-in test init,
              which prints "govmm-guest: hello from user space" and powers off)
`

// Main runs the "initramfs" subcommand with its arguments (not including the
// subcommand name); it returns the process exit code and writes errors as one
// line to stderr: 2 for usage errors, 1 for others. -h prints the usage and
// returns 0.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("initramfs", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, on one line
	out := fs.String("o", "", "output archive")
	initPath := fs.String("init", "", "program to run as /init")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			return 0
		}
		return usageError(stderr, "initramfs: %v", err)
	}
	if *out == "" {
		return usageError(stderr, "initramfs: -o FILE is required")
	}
	files, err := ParseFileArgs(fs.Args())
	if err != nil {
		return usageError(stderr, "%v", err)
	}

	// Without -init, /init is the built-in test program (guests.TestInit).
	initProg := guests.TestInit()
	if *initPath != "" {
		initProg, err = os.ReadFile(*initPath)
		if err != nil {
			fmt.Fprintf(stderr, "initramfs: -init: %v\n", err)
			return 1
		}
	}
	if len(initProg) == 0 {
		fmt.Fprintf(stderr, "initramfs: -init: %s is empty\n", *initPath)
		return 1
	}
	err = writeFileAtomic(*out, 0o644, func(w io.Writer) error {
		return Write(w, Spec{Init: initProg, Files: files})
	})
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", withPrefix(err))
		return 1
	}
	return 0
}

// usageError writes one line of error and a pointer to -h, and returns 2.
func usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, format+" (see -h)\n", a...)
	return 2
}

// withPrefix makes sure an error message starts with "initramfs: ": Write's
// errors already do, the file system's (create, rename) do not.
func withPrefix(err error) string {
	const p = "initramfs: "
	if s := err.Error(); strings.HasPrefix(s, p) {
		return s
	}
	return p + err.Error()
}
