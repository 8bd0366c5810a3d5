package machine

import "fmt"

// Exit codes of govmm (README.md, "Exit codes"). The machine produces the
// guest-related ones; the command adds usage errors.
const (
	ExitOK        = 0   // the guest reset or powered off
	ExitError     = 1   // govmm error
	ExitUsage     = 2   // usage error (the command line)
	ExitPanic     = 3   // guest kernel panic (pvpanic)
	ExitCrash     = 4   // triple fault, unhandled internal error, or halted with interrupts off
	ExitTimeout   = 124 // -timeout expired
	ExitInterrupt = 130 // govmm was interrupted by SIGINT or SIGTERM
)

// Result is how a run ended.
type Result struct {
	// Code is the process exit code for this outcome.
	Code int
	// Reason is a one-line summary, such as "guest reset (i8042)".
	Reason string
	// Detail holds further lines for a crash: registers and code bytes.
	Detail string
	// Reset is true when the guest asked for a reboot (the ACPI reset
	// register, the i8042 reset line or a KVM reset event), so that a
	// caller with -reboot restart can boot it again.
	Reset bool
}

func (r Result) String() string {
	if r.Detail == "" {
		return fmt.Sprintf("%s (exit %d)", r.Reason, r.Code)
	}
	return fmt.Sprintf("%s (exit %d)\n%s", r.Reason, r.Code, r.Detail)
}
