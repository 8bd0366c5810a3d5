package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// newFlagSet returns a flag set whose errors are one line on stderr; -h
// prints the flags to stdout.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args and returns the exit code to stop with, or -1 to
// go on. Errors are one line naming the flag; -h lists the flags.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2
	}
	return -1
}

// onOff is a boolean flag that also reads "on" and "off" (-acpi=off), as
// QEMU spells them; a bare -acpi means on.
type onOff bool

func (b *onOff) String() string {
	if b != nil && bool(*b) {
		return "on"
	}
	return "off"
}

func (b *onOff) Set(s string) error {
	switch s {
	case "on", "true", "1":
		*b = true
	case "off", "false", "0":
		*b = false
	default:
		return fmt.Errorf("%q is not on or off", s)
	}
	return nil
}

// IsBoolFlag lets the flag package accept a bare -acpi.
func (b *onOff) IsBoolFlag() bool { return true }
