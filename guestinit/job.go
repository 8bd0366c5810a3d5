package guestinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// JobPath is where govmm exec puts the job in the initramfs. Finding it
// (as PID 1) is what makes govmm run as the guest init.
const JobPath = "/govmm/job.json"

// Where the exec init mounts things in the initramfs.
const (
	lowerDir   = "/lower"   // the root share, read-only
	scratchDir = "/scratch" // tmpfs: the overlay's upper and work dirs
	newRoot    = "/newroot" // the overlay: the command's "/"
)

// P9Options are the 9p mount options for a virtio-9p share. The root
// share adds ",ro,cache=loose" (it never changes under the guest, and the
// page cache makes executables fast); read-write shares use cache=mmap,
// which writes through to the host at once and still allows shared
// writable mappings (linkers use them).
const P9Options = "trans=virtio,version=9p2000.L,msize=512000"

// DefaultPath is the command's PATH when the caller has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Job is what the exec init runs, written by govmm exec as JSON at JobPath.
type Job struct {
	// Argv is the command; Argv[0] is looked up in Env's PATH.
	Argv []string `json:"argv"`
	// Env is the command's environment (see Environ).
	Env []string `json:"env"`
	// Dir is the working directory inside the guest's root.
	Dir string `json:"dir"`
	// RootTag is the mount tag of the root share.
	RootTag string `json:"root_tag"`
	// RW are the read-write shares, mounted at their paths in the root.
	RW []RWDir `json:"rw,omitempty"`
	// Console runs the command on the kernel's console (/dev/console,
	// ttyS0) as its controlling terminal instead of on the exec channel:
	// govmm run -rootfs's interactive shell.
	Console bool `json:"console,omitempty"`
}

// RWDir is one -rwdir: the share Tag mounted read-write at Path.
type RWDir struct {
	Tag  string `json:"tag"`
	Path string `json:"path"`
}

// Check reports the first problem with j.
func (j Job) Check() error {
	if len(j.Argv) == 0 || j.Argv[0] == "" {
		return errors.New("job: no command")
	}
	if j.RootTag == "" {
		return errors.New("job: no root share")
	}
	if !path.IsAbs(j.Dir) {
		return fmt.Errorf("job: working directory %q is not absolute", j.Dir)
	}
	for _, rw := range j.RW {
		if rw.Tag == "" || !path.IsAbs(rw.Path) || path.Clean(rw.Path) == "/" {
			return fmt.Errorf("job: bad read-write share %q at %q", rw.Tag, rw.Path)
		}
	}
	return nil
}

// ParseJob decodes and checks a job.
func ParseJob(b []byte) (Job, error) {
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return j, fmt.Errorf("job: %w", err)
	}
	return j, j.Check()
}

// Mount is one mount(2): Source on Target. Target is created first.
type Mount struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
}

// EarlyMounts are the kernel file systems an init mounts in its
// initramfs before anything else.
func EarlyMounts() []Mount {
	return []Mount{
		{Source: "proc", Target: "/proc", FSType: "proc"},
		{Source: "sysfs", Target: "/sys", FSType: "sysfs"},
		{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs"},
	}
}

// SystemMounts are the fresh kernel file systems and scratch space
// mounted inside a new root before the chroot: the command sees the
// guest's own /proc, /sys and /dev, and /dev/shm and /run start empty in
// guest memory. /tmp is not among them: it stays the root's own, so that
// a checkout under the host's /tmp is visible (writes to it stay in
// guest memory under an overlay).
func SystemMounts(root string) []Mount {
	ms := []Mount{
		{Source: "proc", Target: "/proc", FSType: "proc"},
		{Source: "sysfs", Target: "/sys", FSType: "sysfs"},
		{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs"},
		{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Data: "newinstance,ptmxmode=0666"},
		{Source: "tmpfs", Target: "/dev/shm", FSType: "tmpfs", Data: "mode=1777"},
		{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Data: "mode=0755"},
	}
	for i := range ms {
		ms[i].Target = path.Join(root, ms[i].Target)
	}
	return ms
}

// RootMount is the root share, read-only at /lower.
func (j Job) RootMount() Mount {
	return Mount{Source: j.RootTag, Target: lowerDir, FSType: "9p", Flags: unix.MS_RDONLY, Data: P9Options + ",ro,cache=loose"}
}

// RWMounts are the read-write shares inside root, parents before the
// directories below them.
func (j Job) RWMounts(root string) []Mount {
	rw := slices.Clone(j.RW)
	slices.SortStableFunc(rw, func(a, b RWDir) int { return strings.Compare(path.Clean(a.Path), path.Clean(b.Path)) })
	var ms []Mount
	for _, d := range rw {
		ms = append(ms, Mount{Source: d.Tag, Target: path.Join(root, d.Path), FSType: "9p", Data: P9Options + ",cache=mmap"})
	}
	return ms
}

// dropEnv are variables that name host resources a guest cannot reach:
// agent and session sockets, terminal multiplexers, the display, systemd's
// per-service state. The rest of the caller's environment is passed on, so
// that a test sees the same PATH, HOME, locale, GOPATH, CC and the like.
var dropEnv = []string{
	"SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY",
	"GPG_AGENT_INFO", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "XDG_SESSION_ID",
	"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "TMUX", "TMUX_PANE", "STY", "WINDOWID",
	"INVOCATION_ID", "JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
	"MANAGERPID", "SYSTEMD_EXEC_PID",
}

// Environ is the command's environment made from the caller's: every
// variable but those in dropEnv (and malformed entries), with PATH, HOME,
// TERM and USER filled in when the caller has none. The command runs as
// root in the guest, but HOME and USER stay the caller's, so that tools
// find the caller's configuration (~/.gitconfig, ~/go) in the shared
// root.
func Environ(host []string) []string {
	var env []string
	seen := map[string]bool{}
	for _, kv := range host {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || slices.Contains(dropEnv, k) || seen[k] {
			continue
		}
		seen[k] = true
		env = append(env, kv)
	}
	for _, d := range []struct{ k, v string }{
		{"PATH", DefaultPath}, {"HOME", "/root"}, {"TERM", "dumb"}, {"USER", "root"},
	} {
		if !seen[d.k] {
			env = append(env, d.k+"="+d.v)
		}
	}
	return env
}

// LookupEnv returns the value of key in env.
func LookupEnv(env []string, key string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}
