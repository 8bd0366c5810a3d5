package guestinit

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestEnvironKeepsTheCallersAndDropsHostSockets(t *testing.T) {
	got := Environ([]string{
		"PATH=/opt/bin:/usr/bin", "HOME=/home/k", "LANG=C.UTF-8", "GOPATH=/home/k/go",
		"SSH_AUTH_SOCK=/tmp/ssh-x/agent.1", "DISPLAY=:0", "XDG_RUNTIME_DIR=/run/user/1000",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus",
		"=bad", "noequals", "LANG=second", "EMPTY=",
	})
	want := []string{"PATH=/opt/bin:/usr/bin", "HOME=/home/k", "LANG=C.UTF-8", "GOPATH=/home/k/go", "EMPTY=", "TERM=dumb", "USER=root"}
	if !slices.Equal(got, want) {
		t.Errorf("Environ = %q\nwant      %q", got, want)
	}
	def := Environ(nil)
	for _, kv := range []string{"PATH=" + DefaultPath, "HOME=/root", "TERM=dumb", "USER=root"} {
		if !slices.Contains(def, kv) {
			t.Errorf("Environ(nil) = %q lacks %q", def, kv)
		}
	}
	if v, ok := LookupEnv(got, "GOPATH"); !ok || v != "/home/k/go" {
		t.Errorf("LookupEnv GOPATH = %q, %v", v, ok)
	}
	if _, ok := LookupEnv(got, "DISPLAY"); ok {
		t.Error("DISPLAY was passed on")
	}
}

func TestParseJob(t *testing.T) {
	good := Job{Argv: []string{"sh", "-c", "true"}, Env: []string{"A=1"}, Dir: "/src", RootTag: "govmm-root",
		RW: []RWDir{{Tag: "govmm-rw0", Path: "/out"}}}
	b, _ := json.Marshal(good)
	j, err := ParseJob(b)
	if err != nil || !slices.Equal(j.Argv, good.Argv) || j.Dir != "/src" || len(j.RW) != 1 {
		t.Fatalf("ParseJob = %+v, %v", j, err)
	}
	for name, j := range map[string]Job{
		"no command":       {Dir: "/", RootTag: "r"},
		"empty argv[0]":    {Argv: []string{""}, Dir: "/", RootTag: "r"},
		"no root":          {Argv: []string{"x"}, Dir: "/"},
		"relative dir":     {Argv: []string{"x"}, Dir: "src", RootTag: "r"},
		"rw at /":          {Argv: []string{"x"}, Dir: "/", RootTag: "r", RW: []RWDir{{Tag: "t", Path: "/"}}},
		"rw relative":      {Argv: []string{"x"}, Dir: "/", RootTag: "r", RW: []RWDir{{Tag: "t", Path: "out"}}},
		"rw without a tag": {Argv: []string{"x"}, Dir: "/", RootTag: "r", RW: []RWDir{{Path: "/out"}}},
	} {
		b, _ := json.Marshal(j)
		if _, err := ParseJob(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseJob([]byte("{")); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestMountPlan(t *testing.T) {
	j := Job{Argv: []string{"x"}, Dir: "/", RootTag: "govmm-root", RW: []RWDir{
		{Tag: "b", Path: "/home/k/src/out"}, {Tag: "a", Path: "/home/k/src"}, {Tag: "c", Path: "/data"},
	}}
	r := j.RootMount()
	if r.Source != "govmm-root" || r.FSType != "9p" || !strings.Contains(r.Data, "trans=virtio") || !strings.Contains(r.Data, ",ro") || r.Flags == 0 {
		t.Errorf("RootMount = %+v", r)
	}
	var targets []string
	for _, m := range j.RWMounts("/newroot") {
		if m.FSType != "9p" || m.Flags != 0 || strings.Contains(m.Data, ",ro") {
			t.Errorf("RW mount %+v is not read-write 9p", m)
		}
		targets = append(targets, m.Source+":"+m.Target)
	}
	// A parent is mounted before what lies below it.
	if want := []string{"c:/newroot/data", "a:/newroot/home/k/src", "b:/newroot/home/k/src/out"}; !slices.Equal(targets, want) {
		t.Errorf("RW mounts %q, want %q", targets, want)
	}
	targets = nil
	for _, m := range SystemMounts("/newroot") {
		targets = append(targets, m.Target)
	}
	want := []string{"/newroot/proc", "/newroot/sys", "/newroot/dev", "/newroot/dev/pts", "/newroot/dev/shm", "/newroot/run"}
	if !slices.Equal(targets, want) {
		t.Errorf("SystemMounts targets %q, want %q", targets, want)
	}
	for _, m := range EarlyMounts() {
		if !strings.HasPrefix(m.Target, "/") || m.FSType == "" {
			t.Errorf("early mount %+v", m)
		}
	}
}

func TestStatus(t *testing.T) {
	t.Setenv("PATH", os.Getenv("PATH")) // Command sets it; restored at the end
	for _, c := range []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"exit 255", 255},
		{"kill -9 $$", 128 + 9},
		{"kill -TERM $$", 128 + 15},
	} {
		code, msg := Status(exec.Command("sh", "-c", c.script).Run())
		if code != c.code || msg != "" {
			t.Errorf("%q: status %d %q, want %d", c.script, code, msg, c.code)
		}
	}
	code, msg := Status(Command([]string{"no-such-command-govmm"}, []string{"PATH=/nonexistent"}).Run())
	if code != 127 || msg == "" {
		t.Errorf("missing command: %d %q, want 127 and why", code, msg)
	}
	code, msg = Status(exec.Command("/etc/passwd").Run())
	if code != 126 || msg == "" {
		t.Errorf("not executable: %d %q, want 126 and why", code, msg)
	}
}
