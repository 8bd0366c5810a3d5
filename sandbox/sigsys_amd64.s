//go:build linux

#include "textflag.h"

// The SIGSYS handler and its restorer. The kernel calls sigsysHandler as
// void handler(int sig, siginfo_t *info, void *ucontext) (rt_sigaction(2),
// SA_SIGINFO): DI = signal, SI = siginfo, DX = ucontext, on the thread's
// signal stack. It uses no Go runtime state: only registers, 256 bytes of
// stack and two system calls.

#define SYS_write 1
#define SYS_rt_sigreturn 15
#define SYS_exit_group 231

// func sigsysHandler()
TEXT ·sigsysHandler(SB),NOSPLIT|NOFRAME,$0
	// si_syscall: int at offset 24 of siginfo_t on x86-64 (after
	// si_signo, si_errno, si_code, padding and si_call_addr).
	MOVL	24(SI), AX
	SUBQ	$256, SP
	CLD
	MOVQ	SP, DI			// DI: where the next byte of the line goes
	MOVQ	·prefixPtr(SB), SI
	MOVQ	·prefixLen(SB), CX
	REP;	MOVSB
	// The number in decimal, built backwards in SP[224:240].
	LEAQ	240(SP), R8
	MOVQ	R8, R10
	MOVL	$10, R11
digit:
	XORL	DX, DX
	DIVL	R11			// EAX = EDX:EAX / 10, EDX = remainder
	ADDL	$48, DX			// '0'
	DECQ	R10
	MOVB	DX, (R10)
	TESTL	AX, AX
	JNZ	digit
	MOVQ	R10, SI
	MOVQ	R8, CX
	SUBQ	R10, CX
	REP;	MOVSB
	MOVQ	·suffixPtr(SB), SI
	MOVQ	·suffixLen(SB), CX
	REP;	MOVSB
	// write(2, line, len)
	MOVQ	DI, DX
	SUBQ	SP, DX
	MOVQ	SP, SI
	MOVL	$2, DI
	MOVL	$SYS_write, AX
	SYSCALL
	// exit_group(1)
	MOVL	$1, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	HLT				// not reached

// func sigsysRestorer()
// The sa_restorer that x86-64 requires with SA_RESTORER: returning from the
// handler lands here. sigsysHandler never returns, but the kernel refuses
// to deliver an rt signal without one.
TEXT ·sigsysRestorer(SB),NOSPLIT|NOFRAME,$0
	MOVL	$SYS_rt_sigreturn, AX
	SYSCALL
	HLT				// not reached

// func sigsysHandlerAddr() uintptr
TEXT ·sigsysHandlerAddr(SB),NOSPLIT,$0-8
	LEAQ	·sigsysHandler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func sigsysRestorerAddr() uintptr
TEXT ·sigsysRestorerAddr(SB),NOSPLIT,$0-8
	LEAQ	·sigsysRestorer(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
