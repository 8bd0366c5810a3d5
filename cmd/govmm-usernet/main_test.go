package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The helper's own checks; hostnet's StartUser tests run it for real,
// with the frame socket and forwards, under its filter.

// TestParseArgs: the command line StartUser writes parses back; mistakes
// are one-line errors naming the flag.
func TestParseArgs(t *testing.T) {
	o, err := parseArgs(strings.Fields("-mac 02:00:00:00:00:15 -forwards 22,80 -dns 192.0.2.1,192.0.2.2:5353 -sandbox=off"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.mac.String() != "02:00:00:00:00:15" || len(o.ports) != 2 || o.ports[0] != 22 || o.ports[1] != 80 ||
		strings.Join(o.dns, " ") != "192.0.2.1 192.0.2.2:5353" || o.sandbox {
		t.Errorf("parsed %+v", o)
	}
	if o, err := parseArgs([]string{"-mac", "02:00:00:00:00:15"}, io.Discard); err != nil || !o.sandbox || o.ports != nil || o.dns != nil {
		t.Errorf("defaults: %+v, %v; want the sandbox on, no forwards, no DNS servers", o, err)
	}
	for _, c := range []struct{ args, want string }{
		{"", "-mac"},
		{"-mac zz", "-mac"},
		{"-mac 02:00:00:00:00:15 -forwards 22,0", "-forwards"},
		{"-mac 02:00:00:00:00:15 -forwards 70000", "-forwards"},
		{"-mac 02:00:00:00:00:15 -sandbox maybe", "-sandbox"},
		{"-mac 02:00:00:00:00:15 extra", "unexpected argument"},
		{"-bogus", "bogus"},
	} {
		_, err := parseArgs(strings.Fields(c.args), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v; want one line naming %s", c.args, err, c.want)
		}
	}
}

// TestRunWithoutFrameSocket: run by hand, without govmm's descriptors,
// it says so on one line to stdout and exits 1.
func TestRunWithoutFrameSocket(t *testing.T) {
	if os.Getenv("GOVMM_USERNET_TEST_CHILD") == "1" {
		os.Exit(run([]string{"-mac", "02:00:00:00:00:15", "-sandbox=off"}, os.Stdout, os.Stderr))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunWithoutFrameSocket$")
	cmd.Env = append(os.Environ(), "GOVMM_USERNET_TEST_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	want := "govmm-usernet: descriptor 3 is not a SOCK_SEQPACKET socket (govmm -net user starts this helper with its frame socket there)\n"
	if code := cmd.ProcessState.ExitCode(); code != 1 || stdout.String() != want || stderr.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout.String(), stderr.String(), want)
	}
}

// TestHelp: -h prints the usage to stderr and exits 0, with nothing on
// stdout (where StartUser waits for "ready").
func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "usage: govmm-usernet -mac MAC") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
