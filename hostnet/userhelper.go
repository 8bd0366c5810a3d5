package hostnet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// The helper that runs the user network's gateway (command govmm-usernet,
// package usernet), and how StartUser talks to it:
//
//	govmm-usernet -mac MAC [-forwards PORT,...] [-dns ADDR,...] [-sandbox=off]
//
// with the gateway's end of the frame socket pair as descriptor
// UserHelperFramesFD (3) and the forwards' listening sockets after it (4,
// 5, ...), in the order of -forwards, which gives each one's guest port.
// The helper writes one line to its stdout: UserHelperReady once it
// serves, or else why it cannot (and exits 1). It exits 0 at end of file
// on the frame socket: when govmm closes its end, or dies.
const (
	// UserHelper is the helper's command name.
	UserHelper = "govmm-usernet"
	// UserHelperEnv is the environment variable that, when set, is the
	// helper's path.
	UserHelperEnv = "GOVMM_USERNET"
	// UserHelperReady is the helper's line once it serves.
	UserHelperReady = "ready"
	// UserHelperFramesFD is the frame socket's descriptor in the helper.
	UserHelperFramesFD = 3
)

// findUserHelper returns the helper's path: $GOVMM_USERNET if set, else
// govmm-usernet in the directory of the running program, else in $PATH.
// The error is one line that says where it looked and how to build it.
func findUserHelper() (string, error) {
	if p := os.Getenv(UserHelperEnv); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", UserHelperEnv, p, err)
		}
		return p, nil
	}
	var looked string
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), UserHelper)
		if checkExecutable(p) == nil {
			return p, nil
		}
		looked = p + " and "
	}
	if p, err := exec.LookPath(UserHelper); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("helper %s not found (looked for %s$PATH); build it with make build (build/%s) or CGO_ENABLED=0 go install ./cmd/%s, or set %s to its path",
		UserHelper, looked, UserHelper, UserHelper, UserHelperEnv)
}

// checkExecutable reports why p is not an executable regular file.
func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err // the path is in the message already
		}
		return err
	case !fi.Mode().IsRegular():
		return errors.New("not a regular file")
	case fi.Mode()&0o111 == 0:
		return errors.New("not executable")
	}
	return nil
}
