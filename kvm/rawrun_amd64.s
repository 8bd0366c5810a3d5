#include "textflag.h"

// func rawIoctl(fd, req uintptr) (errno uintptr)
//
// One ioctl(2) with a zero argument, as a bare SYSCALL: no call into Go's
// scheduler and no chain of wrappers (see VCPU.RunHot). The kernel returns
// -errno in AX for an error (x86-64 syscall ABI).
TEXT ·rawIoctl(SB), NOSPLIT, $0-24
	MOVQ	fd+0(FP), DI
	MOVQ	req+8(FP), SI
	XORL	DX, DX
	MOVL	$16, AX // SYS_ioctl
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	AX, errno+16(FP)
	RET
ok:
	MOVQ	$0, errno+16(FP)
	RET
