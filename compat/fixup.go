package compat

import (
	"bytes"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// Action is what the VCPU loop does to complete one instruction for the guest.
type Action struct {
	// Name is the instruction, for logs and -stats.
	Name string
	// Skip is how many bytes RIP advances (the instruction's length).
	Skip int
	// Inject is the exception vector to inject after the skip, or -1.
	Inject int
	// SetRAX, when true, sets RAX to RAX (a hypercall's return value).
	SetRAX bool
	RAX    uint64
}

// kvmENOSYS is -KVM_ENOSYS (include/uapi/linux/kvm_para.h): the answer of a
// KVM that does not implement a hypercall.
const kvmENOSYS = ^uint64(1000 - 1) // -1000

// fixup is one table row: a matcher on the decoded instruction (or on raw
// bytes, for opcodes x86asm does not know) and the action to take.
type fixup struct {
	name  string
	match func(inst *x86asm.Inst, code []byte) bool
	act   func(inst *x86asm.Inst) Action
}

// emulationFixups complete instructions that make KVM_RUN fail with an
// emulation error (KVM_INTERNAL_ERROR_EMULATION) at guest CPL 0.
var emulationFixups = []fixup{
	{
		// int3 (cc): used by the kernel's alternatives self-test. Skip
		// it and deliver #BP, as the CPU would (trap: RIP after int3).
		name:  "int3",
		match: func(i *x86asm.Inst, _ []byte) bool { return i != nil && i.Op == x86asm.INT && i.Len == 1 },
		act:   func(i *x86asm.Inst) Action { return Action{Name: "int3", Skip: i.Len, Inject: 3} },
	},
	{
		// fwait (9b): a no-op in ring 0 when no x87 exception is pending,
		// which is always the case for a kernel that uses no x87 code.
		name:  "fwait",
		match: func(i *x86asm.Inst, _ []byte) bool { return i != nil && i.Op == x86asm.FWAIT },
		act:   func(i *x86asm.Inst) Action { return Action{Name: "fwait", Skip: i.Len, Inject: -1} },
	},
}

var (
	vmcall  = []byte{0x0f, 0x01, 0xc1}
	vmmcall = []byte{0x0f, 0x01, 0xd9}
)

// stuckFixups complete instructions at which RIP stays across two samples
// although the VCPU keeps running: on this host a vmcall (ptp_kvm's
// KVM_HC_CLOCK_PAIRING) never completes. Answer it as a KVM that lacks the
// hypercall would: RAX = -KVM_ENOSYS, RIP past the instruction.
var stuckFixups = []fixup{
	{
		name: "vmcall",
		match: func(_ *x86asm.Inst, code []byte) bool {
			return bytes.HasPrefix(code, vmcall) || bytes.HasPrefix(code, vmmcall)
		},
		act: func(*x86asm.Inst) Action {
			return Action{Name: "vmcall", Skip: 3, Inject: -1, SetRAX: true, RAX: kvmENOSYS}
		},
	},
}

func decide(table []fixup, code []byte, mode int) (Action, bool) {
	var inst *x86asm.Inst
	if i, err := x86asm.Decode(code, mode); err == nil {
		inst = &i
	}
	for _, f := range table {
		if f.match(inst, code) {
			return f.act(inst), true
		}
	}
	return Action{}, false
}

// OnEmulationFailure returns the fix-up for the instruction at the start of
// code (16 bytes at the failing RIP), decoded in mode (16, 32 or 64).
func OnEmulationFailure(code []byte, mode int) (Action, bool) {
	return decide(emulationFixups, code, mode)
}

// OnStuck returns the fix-up for an instruction RIP has not left between two
// samples, if it is one that never completes on this host.
func OnStuck(code []byte, mode int) (Action, bool) {
	return decide(stuckFixups, code, mode)
}

// Describe disassembles the first instruction of code for an error message,
// such as "lock cmpxchg16b [rdi]" or "unknown (0f 01 c1)".
func Describe(code []byte, mode int) string {
	if bytes.HasPrefix(code, vmcall) {
		return "vmcall"
	}
	if bytes.HasPrefix(code, vmmcall) {
		return "vmmcall"
	}
	i, err := x86asm.Decode(code, mode)
	if err != nil {
		return fmt.Sprintf("undecodable (% x)", code[:min(len(code), 4)])
	}
	return x86asm.IntelSyntax(i, 0, nil)
}
