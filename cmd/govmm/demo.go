package main

import (
	"fmt"
	"io"
	"time"

	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/machine"
)

// demoCmd runs the built-in guest (guests.Hello) at CPL 3 in long mode, the
// one mode that runs natively even where guest ring 0 is emulated.
func demoCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("govmm demo")
	stats := fs.Bool("stats", false, "print exit statistics to stderr at exit")
	verbose := fs.Bool("v", false, "log what govmm does to stderr")
	sb := onOff(true)
	fs.Var(&sb, "sandbox", sandboxHelp)
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	cfg := machine.Config{
		MemSize:  16 << 20,
		RawImage: guests.Hello,
		RawMode:  machine.RawUser,
		Console:  stdout,
		Stats:    *stats,
		KVMPath:  kvmDevice,
	}
	if *verbose {
		cfg.Log = stderr
	}
	if sb {
		cfg.BeforeRun = func() error { return installSandbox() }
	}
	plan, err := cfg.Plan()
	if err != nil {
		fmt.Fprintf(stderr, "govmm: %v\n", err)
		return machine.ExitError
	}
	// The same path as govmm run, without stdin; the timeout is a guard.
	return boot(plan, runFlags{timeout: 10 * time.Second}, nil, stderr)
}
