package guestinit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Do makes m.Target (and its parents) and mounts m there.
func (m Mount) Do() error {
	if err := os.MkdirAll(m.Target, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("mkdir %s: %w", m.Target, err)
	}
	if err := unix.Mount(m.Source, m.Target, m.FSType, m.Flags, m.Data); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", m.Source, m.FSType, m.Target, err)
	}
	return nil
}

// MountAll mounts ms in order and stops at the first error.
func MountAll(ms []Mount) error {
	for _, m := range ms {
		if err := m.Do(); err != nil {
			return err
		}
	}
	return nil
}

// Overlay mounts, at target, an overlay whose lower layer is lower (which
// may be target itself) and whose upper layer lives in a new tmpfs at
// scratch: every write lands in guest memory and none reaches lower. The
// overlay's top directory keeps lower's permissions (0755 for a root,
// 1777 for /tmp).
func Overlay(target, lower, scratch string) error {
	st, err := os.Stat(lower)
	if err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	if err := (Mount{Source: "tmpfs", Target: scratch, FSType: "tmpfs", Data: "mode=0755"}).Do(); err != nil {
		return err
	}
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("overlay: %w", err)
		}
	}
	// os.Chmod takes Go's mode bits, in which sticky is not 01000.
	if err := unix.Chmod(upper, uint32(st.Mode().Perm())|sticky(st.Mode())); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	return Mount{Source: "overlay", Target: target, FSType: "overlay",
		Data: "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work}.Do()
}

func sticky(m os.FileMode) uint32 {
	if m&os.ModeSticky != 0 {
		return unix.S_ISVTX
	}
	return 0
}

// EnterRoot chroots into root and changes to dir there.
func EnterRoot(root, dir string) error {
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("the working directory %s is not visible in the guest: %w", dir, pathCause(err))
	}
	return nil
}

// Command returns the command for argv with environment env, looking
// argv[0] up in env's PATH (DefaultPath when it has none), not in this
// process's.
func Command(argv, env []string) *exec.Cmd {
	p, ok := LookupEnv(env, "PATH")
	if !ok {
		p = DefaultPath
	}
	os.Setenv("PATH", p) // exec.Command looks argv[0] up in our own PATH
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	return cmd
}

// Status turns the result of running a command into its exit status, as a
// shell reports it: the exit code, 128+N when signal N killed it, 127
// when it could not be found and 126 when it could not be started. msg
// says why for the last two.
func Status(err error) (code int, msg string) {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), ""
		}
		return ee.ExitCode(), ""
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return 127, err.Error()
	}
	return 126, err.Error()
}

// pathCause strips the operation and path from a *PathError.
func pathCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
