package machine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/kvm"
)

// afterReset is the register file KVM on AMD hands back after a triple
// fault: the INIT state of Intel SDM vol. 3A table 9-1 / AMD APM vol. 2
// table 14-1 (CS F000:FFF0 with base FFFF0000, RFLAGS 2, CR0.PE clear), as
// kvm_vcpu_reset(vcpu, init_event=true) sets it. CR0 is ET alone because
// INIT keeps CD and NW, which the guest had clear; this is what kvm-amd
// returned for guests.TripleFault on the nested test host.
func afterReset() (kvm.Regs, kvm.Sregs) {
	r := kvm.Regs{RIP: 0xfff0, RFLAGS: 0x2}
	var s kvm.Sregs
	s.CS = kvm.Segment{Base: 0xffff0000, Limit: 0xffff, Selector: 0xf000, Type: 0xb, Present: 1, S: 1}
	s.CR0 = 0x10
	return r, s
}

// where64 is the state of the TripleFault guest where it dies on Intel:
// ud2 at 0x10000, 64-bit, CPL 3.
func where64() crashState {
	var s crashState
	s.regs = kvm.Regs{RIP: 0x10000, RSP: 0x8000, RFLAGS: 0x202}
	s.sregs.CS = kvm.Segment{Selector: 0x2b, DPL: 3, L: 1}
	s.sregs.CR0 = 0x80050033
	s.sregs.EFER = 0x500
	s.code = append([]byte{0x0f, 0x0b}, make([]byte, 14)...)
	s.mode = 64
	return s
}

func TestIsResetState(t *testing.T) {
	r, s := afterReset()
	if !isResetState(r, s) {
		t.Fatal("the INIT state is not recognised")
	}
	s.CR0 = 0x60000010 // the power-on value: CD, NW, ET
	if !isResetState(r, s) {
		t.Fatal("the RESET state is not recognised")
	}
	for name, mod := range map[string]func(*kvm.Regs, *kvm.Sregs){
		"RIP elsewhere":     func(r *kvm.Regs, s *kvm.Sregs) { r.RIP = 0xfff1 },
		"other CS selector": func(r *kvm.Regs, s *kvm.Sregs) { s.CS.Selector = 0xf001 },
		"far jmp f000:fff0": func(r *kvm.Regs, s *kvm.Sregs) { s.CS.Base = 0xf0000 }, // real-mode base = sel<<4
		"protected mode":    func(r *kvm.Regs, s *kvm.Sregs) { s.CR0 |= 1 },
		"the 64-bit guest":  func(r *kvm.Regs, s *kvm.Sregs) { *r, *s = where64().regs, where64().sregs },
	} {
		r, s := afterReset()
		mod(&r, &s)
		if isResetState(r, s) {
			t.Errorf("%s: taken for the reset state", name)
		}
	}
}

// Where KVM keeps the registers of the fault (Intel, PVM), the report shows
// RIP and the instruction: what TestTripleFaultIsACrash checks on such
// hosts.
func TestCrashReportTripleFaultWithRegisters(t *testing.T) {
	s := where64()
	s.tripleFault = true
	got := crashReport(s)
	for _, want := range []string{"vcpu 0: RIP=0x10000 ", "CPL=3", "code at RIP: 0f 0b", "instruction: ud2"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "not known") || strings.Contains(got, "last known") {
		t.Errorf("report doubts registers it can trust:\n%s", got)
	}
}

// Where KVM reset the vCPU (AMD), the report says so and neither shows the
// reset RIP as the guest's nor tries to read code there.
func TestCrashReportTripleFaultAfterReset(t *testing.T) {
	var s crashState
	s.vcpu = 1
	s.tripleFault = true
	s.regs, s.sregs = afterReset()
	s.codeErr = errors.New("RIP 0xfff0: linear 0xfffffff0 is not mapped")
	got := crashReport(s)
	for _, want := range []string{
		"vcpu 1: triple fault; KVM reset the vCPU",
		"the faulting RIP is not known",
		"reset state (CS:IP=f000:fff0, CS.base=0xffff0000)",
		"last known RIP: none",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"RIP=0xfff0", "code at RIP", "instruction:", "System.map"} {
		if strings.Contains(got, bad) {
			t.Errorf("report has %q, a false trail:\n%s", bad, got)
		}
	}

	// With a sample from before the fault, it is given, labelled.
	s.last = ripSample{rip: 0xffffffff81234567, at: time.Now()}
	s.lastAge = 123400 * time.Microsecond
	s.kernel = true
	got = crashReport(s)
	if want := "last known RIP: 0xffffffff81234567, sampled 123ms before the fault (not necessarily where it faulted)"; !strings.Contains(got, want) {
		t.Errorf("report lacks %q:\n%s", want, got)
	}
	if !strings.Contains(got, "System.map") {
		t.Errorf("kernel report has no System.map hint:\n%s", got)
	}
}

// Only a triple fault makes the reset state suspect: a vCPU that crashes in
// another way while in that state (an AP still waiting for its SIPI, say)
// is really there.
func TestCrashReportResetStateWithoutTripleFault(t *testing.T) {
	var s crashState
	s.regs, s.sregs = afterReset()
	s.codeErr = errors.New("not mapped")
	got := crashReport(s)
	if !strings.Contains(got, "vcpu 0: RIP=0xfff0 ") || !strings.Contains(got, "code at RIP unreadable: not mapped") {
		t.Errorf("report:\n%s", got)
	}
	if strings.Contains(got, "not known") {
		t.Errorf("report doubts a genuine state:\n%s", got)
	}
}

// Without the segment registers the reset state cannot be recognised: the
// report falls back to what it has.
func TestCrashReportMissingRegisters(t *testing.T) {
	s := crashState{tripleFault: true, regsErr: errors.New("EIO")}
	if got := crashReport(s); got != "vcpu 0: registers unavailable: EIO" {
		t.Errorf("report %q", got)
	}
	s = crashState{tripleFault: true, sregsErr: errors.New("EIO"), codeErr: errors.New("EIO")}
	s.regs, _ = afterReset()
	if got := crashReport(s); !strings.HasPrefix(got, "vcpu 0: RIP=0xfff0 RSP=0x0 RFLAGS=0x2\ncode at RIP unreadable") {
		t.Errorf("report %q", got)
	}
}
