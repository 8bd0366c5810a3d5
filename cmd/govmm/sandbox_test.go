package main

import (
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/govmm/govmm/sandbox"
)

// asGovmmEnv makes the test binary be govmm (TestMain): the sandbox can
// only be tried in a process of its own, as it cannot be removed.
const asGovmmEnv = "GOVMM_TEST_AS_GOVMM"

// sandboxInstalls counts the sandbox installs of in-process runs.
var sandboxInstalls atomic.Int32

func TestMain(m *testing.M) {
	if os.Getenv(asGovmmEnv) == "1" {
		os.Exit(govmm(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// In-process runs (cli) must not filter the test binary.
	installSandbox = func(...sandbox.Rule) error { sandboxInstalls.Add(1); return nil }
	os.Exit(m.Run())
}

func TestSandboxFlag(t *testing.T) {
	parse := func(args ...string) (runFlags, error) {
		fs := newFlagSet("govmm run")
		var f runFlags
		f.register(fs)
		if err := fs.Parse(args); err != nil {
			return f, err
		}
		f.set = map[string]bool{}
		_, err := f.config(nil, nil)
		return f, err
	}
	for _, c := range []struct {
		args []string
		on   bool
	}{
		{[]string{"-kernel", "k"}, true},
		{[]string{"-kernel", "k", "-sandbox"}, true},
		{[]string{"-kernel", "k", "-sandbox=on"}, true},
		{[]string{"-kernel", "k", "-sandbox=off"}, false},
		{[]string{"-raw", "r", "-sandbox=false"}, false},
	} {
		f, err := parse(c.args...)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		cfg, _ := f.config(nil, nil)
		if bool(f.sandbox) != c.on || (cfg.BeforeRun != nil) != c.on {
			t.Errorf("%q: sandbox %v, BeforeRun set %v; want %v", c.args, f.sandbox, cfg.BeforeRun != nil, c.on)
		}
	}
	if _, err := parse("-kernel", "k", "-sandbox=maybe"); err == nil || !strings.Contains(err.Error(), "-sandbox") {
		t.Errorf("-sandbox=maybe: %v", err)
	}
	// -reboot restart keeps the sandbox; it then also allows building a VM.
	if f, err := parse("-kernel", "k", "-reboot", "restart"); err != nil || !bool(f.sandbox) {
		t.Errorf("-reboot restart with the sandbox: %v (sandbox %v)", err, f.sandbox)
	}
	if _, err := parse("-kernel", "k", "-reboot", "restart", "-sandbox=off"); err != nil {
		t.Errorf("-reboot restart -sandbox=off: %v", err)
	}
}

func TestSandboxFlagInHelp(t *testing.T) {
	for _, cmd := range []string{"run", "demo"} {
		code, out, _ := cli(t, cmd, "-h")
		if code != 0 || !strings.Contains(out, "-sandbox") || !strings.Contains(out, "SECURITY.md") {
			t.Errorf("govmm %s -h: exit %d, no -sandbox:\n%s", cmd, code, out)
		}
	}
}
