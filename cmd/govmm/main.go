// Command govmm is a minimal KVM virtual machine monitor: it boots a Linux
// kernel (bzImage or ELF vmlinux) or a flat teaching binary, with the guest's
// serial console on stdout.
//
//	govmm run -kernel bzImage [-initrd F] [-append S] [-m 256M] [-timeout 5m] [-stats] [-v]
//	govmm run -raw guest.bin [-raw-mode real|long|user] [-raw-addr 0x10000]
//	govmm exec -kernel bzImage [-rootfs /] [-rwdir DIR]... -- CMD [ARGS...]
//	govmm demo       a built-in guest says hello; no files needed
//	govmm probe      what this host's KVM can do
//	govmm initramfs  build an uncompressed initramfs
//
// This file only dispatches; each subcommand has its own file.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/govmm/govmm/guestinit"
	"github.com/govmm/govmm/initramfs"
	"github.com/govmm/govmm/machine"
)

const usage = `usage: govmm <command> [flags]

commands:
  run        boot a kernel (-kernel) or a raw binary (-raw)
  exec       run a command in a guest kernel, on the host's files (-rootfs)
  demo       run the built-in demo guest
  probe      show what this host's KVM supports
  initramfs  build an uncompressed newc initramfs

"govmm <command> -h" lists a command's flags.
`

func main() {
	// govmm exec boots a guest whose /init is this binary, with a job.
	if guestinit.IsExecInit() {
		guestinit.ExecMain() // never returns
	}
	os.Exit(govmm(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// govmm runs one command and returns the process exit code.
func govmm(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return machine.ExitUsage
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdin, stdout, stderr)
	case "exec":
		return execCmd(args[1:], stdin, stdout, stderr)
	case "demo":
		return demoCmd(args[1:], stdout, stderr)
	case "probe":
		return probeCmd(args[1:], stdout, stderr)
	case "initramfs":
		return initramfs.Main(args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "govmm: unknown command %q (govmm -h lists the commands)\n", args[0])
	return machine.ExitUsage
}
