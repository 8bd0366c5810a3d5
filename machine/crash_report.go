package machine

import (
	"fmt"
	"time"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/kvm"
)

// The architectural state after RESET or INIT (Intel SDM vol. 3A, table 9-1;
// AMD APM vol. 2, table 14-1): CS selector 0xF000 with base 0xFFFF0000 and
// IP 0xFFF0, so the first fetch is at 0xFFFFFFF0, in real mode (CR0.PE 0).
const (
	resetRIP    = 0xfff0
	resetCSSel  = 0xf000
	resetCSBase = 0xffff0000
)

// isResetState reports whether regs and sregs are the vCPU reset state.
// Code cannot get there by itself: a real-mode far jump to F000:FFF0 loads
// CS.base 0xF0000, not 0xFFFF0000.
func isResetState(regs kvm.Regs, sregs kvm.Sregs) bool {
	return regs.RIP == resetRIP && sregs.CS.Selector == resetCSSel &&
		sregs.CS.Base == resetCSBase && sregs.CR0&cr0PE == 0
}

// ripSample is a RIP the vCPU loop read at a sampler kick, and when.
type ripSample struct {
	rip uint64
	at  time.Time // zero: no sample yet
}

// crashState is what a crash report is made of: the vCPU's registers as
// KVM gives them after the exit, the code at RIP, and the newest RIP sample.
// vcpu.report gathers it; crashReport, which needs no KVM, words it.
type crashState struct {
	vcpu int
	// tripleFault: the exit was KVM_EXIT_SHUTDOWN.
	tripleFault bool

	regs     kvm.Regs
	regsErr  error
	sregs    kvm.Sregs
	sregsErr error
	// code and mode are the bytes at RIP and their decoding mode (16, 32,
	// 64), or codeErr.
	code    []byte
	mode    int
	codeErr error

	// last is the newest sample before the crash; lastAge how long before.
	last    ripSample
	lastAge time.Duration

	// kernel: a Linux guest (hints about System.map); compat: -compat on.
	kernel, compat bool
}

// crashReport is the Detail of a crash Result.
//
// On a triple fault, KVM on Intel (VMX) returns KVM_EXIT_SHUTDOWN with the
// registers of the fault, and the report shows RIP and the instruction
// there. KVM on AMD (SVM) finds the VMCB undefined after a shutdown
// intercept and INITs the vCPU before returning (arch/x86/kvm/svm/svm.c,
// shutdown_interception), so the registers are the reset state: showing
// RIP=0xfff0 and "code at RIP unreadable" would be a false trail. Then the
// report says the faulting RIP is not known and gives the last RIP govmm
// sampled, labelled as such.
func crashReport(s crashState) string {
	if s.regsErr != nil {
		return fmt.Sprintf("vcpu %d: registers unavailable: %v", s.vcpu, s.regsErr)
	}
	if s.tripleFault && s.sregsErr == nil && isResetState(s.regs, s.sregs) {
		return resetReport(s)
	}
	r := s.regs
	out := fmt.Sprintf("vcpu %d: RIP=%#x RSP=%#x RFLAGS=%#x", s.vcpu, r.RIP, r.RSP, r.RFLAGS)
	if s.sregsErr == nil {
		sr := s.sregs
		out += fmt.Sprintf(" CR0=%#x CR3=%#x CR4=%#x EFER=%#x CS.sel=%#x CPL=%d", sr.CR0, sr.CR3, sr.CR4, sr.EFER, sr.CS.Selector, sr.CS.DPL)
	}
	if s.codeErr != nil {
		return out + fmt.Sprintf("\ncode at RIP unreadable: %v", s.codeErr)
	}
	out += fmt.Sprintf("\ncode at RIP: % x\ninstruction: %s", s.code, compat.Describe(s.code, s.mode))
	if !s.kernel {
		return out
	}
	if !s.compat {
		out += "\nhint: on a host that emulates guest ring 0, try -compat on (see README, Host notes)"
	} else {
		out += "\nhint: look RIP up in the kernel's System.map; an instruction the host cannot emulate needs a CPUID mask, a kernel parameter or a fix-up in compat/"
	}
	return out
}

// resetReport is crashReport for a triple fault after which KVM reset the
// vCPU: it never presents the reset registers as the guest's.
func resetReport(s crashState) string {
	out := fmt.Sprintf("vcpu %d: triple fault; KVM reset the vCPU before returning (as KVM on AMD does), so the faulting RIP is not known", s.vcpu)
	out += fmt.Sprintf("\nregisters now hold the reset state (CS:IP=%04x:%04x, CS.base=%#x), not the guest's", s.sregs.CS.Selector, s.regs.RIP, s.sregs.CS.Base)
	if s.last.at.IsZero() {
		out += "\nlast known RIP: none (the sampler had not looked at this vCPU yet)"
	} else {
		out += fmt.Sprintf("\nlast known RIP: %#x, sampled %v before the fault (not necessarily where it faulted)", s.last.rip, s.lastAge.Round(time.Millisecond))
	}
	out += fmt.Sprintf("\nhint: on an Intel host the report shows the faulting instruction; -profile samples RIP every %v, which narrows the last known RIP", samplePeriod/profilePeriodDivisor)
	if s.kernel {
		out += "; look it up in the kernel's System.map"
	}
	return out
}
