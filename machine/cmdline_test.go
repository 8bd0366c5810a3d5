package machine

import (
	"strings"
	"testing"
)

// TestCompatParamsPrecedeUserCmdline: the compat parameters come before
// the user's -append, so that the user's own value of a parameter wins
// (Linux keeps the last) and "-- args" for init stays last.
func TestCompatParamsPrecedeUserCmdline(t *testing.T) {
	user := "console=ttyS0 panic=-1 -- reboot"
	p := &Plan{cfg: Config{Cmdline: " " + user + " "}, compat: true}
	got, added := p.cmdline()
	if !strings.HasSuffix(got, " "+user) || !strings.HasPrefix(got, "noxsave ") {
		t.Fatalf("command line %q", got)
	}
	if added != len(got)-len(user) {
		t.Fatalf("added %d, want %d", added, len(got)-len(user))
	}
	if len(p.notes) == 0 || !strings.Contains(strings.Join(p.notes, "\n"), "compat: kernel parameter noxsave") {
		t.Fatalf("-v notes %q", p.notes)
	}

	p = &Plan{cfg: Config{Cmdline: user}}
	if got, added := p.cmdline(); got != user || added != 0 {
		t.Fatalf("without compat: %q, %d", got, added)
	}
}
