// Package sandbox confines govmm with a seccomp filter once its set-up is
// done: from then on it may make only the system calls in allowed.go, and
// any other call ends the process with one line on stderr,
//
//	govmm: sandbox: forbidden system call N (see SECURITY.md; -sandbox=off disables the filter)
//
// and exit status 1.
//
// The filter (seccomp(2), SECCOMP_SET_MODE_FILTER) is assembled by
// github.com/elastic/go-seccomp-bpf and installed with
// SECCOMP_FILTER_FLAG_TSYNC, so that every thread the Go runtime has
// already started gets it at once; threads started later inherit it
// (clone(2) copies the filter). no_new_privs is set first, as seccomp(2)
// requires of an unprivileged process.
//
// Why SECCOMP_RET_TRAP and a handler in assembly: the other actions are
// worse. SECCOMP_RET_KILL_PROCESS dies with SIGSYS and no word of why;
// SECCOMP_RET_ERRNO hands an error to code that may not expect one (the Go
// runtime throws on a failed mmap, for one), which turns a clear violation
// into a confusing failure somewhere else. SECCOMP_RET_TRAP raises SIGSYS
// in the offending thread, but Go's own SIGSYS handler treats it as a fatal
// throw and prints every goroutine's stack, and os/signal cannot catch it
// (a seccomp SIGSYS is not "from user"). So Install replaces the SIGSYS
// handler with a tiny one in assembly (sigsys_amd64.s), installed with a
// raw rt_sigaction(2) after the Go runtime has set up its own handlers: it
// reads si_syscall from the siginfo, formats the line with the write(2)
// system call and calls exit_group(2) with status 1. It touches no Go
// runtime state, allocates nothing and runs on the thread's signal stack
// (SA_ONSTACK: the Go runtime gives every thread one), so it is
// async-signal-safe. Deferred clean-ups do not run: a terminal left in raw
// mode by the console needs "reset" afterwards.
package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// Prefix and Suffix frame the system call number in the line the SIGSYS
// handler writes to stderr.
const (
	Prefix = "govmm: sandbox: forbidden system call "
	Suffix = " (see SECURITY.md; -sandbox=off disables the filter)\n"
)

var (
	installMu sync.Mutex
	installed bool
)

// Install confines the whole process, every thread, to the system calls in
// Allowed and AllowedIoctls. It cannot be undone. Call it after set-up
// (files open, VM and devices created) and before the guest runs. A second
// call does nothing.
func Install() error { return InstallWith() }

// InstallWith is Install with more allowed calls on top of Allowed: for
// example FileServer, when govmm serves host directories to the guest.
func InstallWith(extra ...Rule) error {
	installMu.Lock()
	defer installMu.Unlock()
	if installed {
		return nil
	}
	policy, err := Policy(extra...)
	if err != nil {
		return err
	}
	// Check the program before touching the SIGSYS handler.
	if _, err := policy.Assemble(); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	warmUp()
	restore, err := setSIGSYSHandler()
	if err != nil {
		return fmt.Errorf("sandbox: installing the SIGSYS handler: %w", err)
	}
	f := seccomp.Filter{NoNewPrivs: true, Flag: seccomp.FilterFlagTSync, Policy: *policy}
	if err := seccomp.LoadFilter(f); err != nil {
		restore()
		return fmt.Errorf("sandbox: %w (-sandbox=off runs without it)", err)
	}
	installed = true
	return nil
}

// warmUp makes the Go runtime do now, before the filter, the one-time
// set-up it would otherwise do lazily with calls the filter refuses.
func warmUp() {
	// The first timer creates the network poller (epoll_create1, eventfd2);
	// govmm's sampler, timeouts and time.Sleep all need it.
	time.Sleep(time.Microsecond)
	// The local time zone is read from /etc/localtime on first use (log
	// timestamps, time.Time.Local); load it while files may be opened.
	_ = time.Now().Local()
}

// Policy builds the seccomp policy from Allowed (plus extra),
// AllowedIoctls and FailENOSYS: allow what the first two list, fail the
// third with ENOSYS, SECCOMP_RET_TRAP for the rest.
func Policy(extra ...Rule) (*seccomp.Policy, error) {
	group := seccomp.SyscallGroup{Action: seccomp.ActionAllow}
	for _, r := range append(Allowed[:len(Allowed):len(Allowed)], extra...) {
		switch {
		case r.Name == "ioctl" && r.Args == nil:
			for _, io := range AllowedIoctls {
				group.NamesWithCondtions = append(group.NamesWithCondtions, seccomp.NameWithConditions{
					Name:       "ioctl",
					Conditions: seccomp.ArgumentConditions{{Argument: 1, Operation: seccomp.Equal, Value: io.Req}},
				})
			}
		case r.Args == nil:
			// Extra rule sets may repeat a call (FileServer and Restart
			// both open files); the filter lists each name once.
			if !slices.Contains(group.Names, r.Name) {
				group.Names = append(group.Names, r.Name)
			}
		default:
			var conds seccomp.ArgumentConditions
			for _, a := range r.Args {
				c, err := a.condition()
				if err != nil {
					return nil, fmt.Errorf("sandbox: %s: %w", r.Name, err)
				}
				conds = append(conds, c)
			}
			group.NamesWithCondtions = append(group.NamesWithCondtions, seccomp.NameWithConditions{Name: r.Name, Conditions: conds})
		}
	}
	enosys := seccomp.SyscallGroup{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)}
	for _, r := range FailENOSYS {
		enosys.Names = append(enosys.Names, r.Name)
	}
	return &seccomp.Policy{DefaultAction: seccomp.ActionTrap, Syscalls: []seccomp.SyscallGroup{group, enosys}}, nil
}

// condition translates a to the library's form.
func (a Arg) condition() (seccomp.Condition, error) {
	if a.Index < 0 || a.Index > 5 {
		return seccomp.Condition{}, fmt.Errorf("argument %d: system calls have arguments 0 to 5", a.Index)
	}
	c := seccomp.Condition{Argument: uint32(a.Index), Value: a.Value}
	switch a.Op {
	case Equal:
		c.Operation = seccomp.Equal
	case NotEqual:
		c.Operation = seccomp.NotEqual
	case AllSet:
		// The library's BitsSet is "any of the bits": the same for one bit.
		if a.Value == 0 || a.Value&(a.Value-1) != 0 {
			return c, fmt.Errorf("AllSet %#x: give a single bit", a.Value)
		}
		c.Operation = seccomp.BitsSet
	case NoneSet:
		c.Operation = seccomp.BitsNotSet
	default:
		return c, errors.New("unknown comparison")
	}
	return c, nil
}
