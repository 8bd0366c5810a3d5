/*
 * ioeventfd N: cost of one guest OUT that KVM completes in the kernel by
 * signalling an eventfd (api.rst, KVM_IOEVENTFD), with no exit to user space.
 *
 * The guest, at CPL 3, does N OUTs to port 0x520, which is bound with
 * KVM_IOEVENTFD (KVM_IOEVENTFD_FLAG_PIO, len 1, no datamatch), then OUT 0x64
 * (i8042 reset), the only exit expected. As in mmiokick, a reader thread
 * waits on the eventfd (poll, then read) and must count N signals, unless
 * "noreader" is given: then one read afterwards returns the counter (the sum
 * of all signals, and resets it; eventfd(2)), which must equal N.
 *
 *   ioeventfd N [noreader]
 */
#include "kvmref.h"

#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KICK_PORT 0x520

int main(int argc, char **argv)
{
	uint32_t n = ref_parse_n(argc, argv);
	int reader = ref_reader_mode(argc, argv);
	struct ref_reader rd;
	/* guests.PIOLoop with port 0x520 (as --64, checked with objdump -d). */
	uint8_t code[] = {
		0xb9, 0, 0, 0, 0,       /*    mov ecx, N          */
		0x66, 0xba, 0x20, 0x05, /*    mov dx, 0x520       */
		0xee,                   /* 1: out dx, al          */
		0xff, 0xc9,             /*    dec ecx             */
		0x75, 0xfb,             /*    jnz 1b              */
		0xb0, 0xfe,             /*    mov al, 0xfe        */
		0xe6, 0x64,             /*    out 0x64, al        */
		0xeb, 0xfe,             /*    jmp $               */
	};
	struct ref_vm v;
	struct kvm_ioeventfd io;
	uint64_t exits = 0, signals = 0, t0, t1;
	int efd;

	memcpy(code + 1, &n, 4); /* little-endian imm32 */
	ref_vm_create(&v, code, sizeof code);

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		die(1, "eventfd");
	/* api.rst, KVM_IOEVENTFD: a PIO write of len bytes at addr signals fd;
	 * without KVM_IOEVENTFD_FLAG_DATAMATCH any value matches. */
	memset(&io, 0, sizeof io);
	io.addr = KICK_PORT;
	io.len = 1;
	io.fd = efd;
	io.flags = KVM_IOEVENTFD_FLAG_PIO;
	if (ioctl(v.vm, KVM_IOEVENTFD, &io) < 0)
		die(1, "KVM_IOEVENTFD (port %#x)", KICK_PORT);

	if (reader)
		ref_reader_start(&rd, efd, n);
	t0 = ref_now_ns();
	for (;;) {
		uint32_t reason = ref_run(&v);
		struct kvm_run *r = v.run;

		exits++;
		/* An exit on 0x520 would mean the ioeventfd did not catch it. */
		if (reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT &&
		    r->io.port == REF_PORT_RESET)
			break;
		ref_bad_exit(&v);
	}
	t1 = ref_now_ns();
	ref_check_cpl3(&v);

	if (reader) {
		ref_reader_join(&rd);
		signals = rd.signals;
	} else {
		signals = ref_read_eventfd(efd, n);
	}

	printf("ioeventfd_kick_ns %.1f\n", (double)(t1 - t0) / (double)n);
	printf("signals %llu\n", (unsigned long long)signals);
	if (reader)
		printf("wakeups %llu\n", (unsigned long long)rd.wakeups);
	printf("exits %llu\n", (unsigned long long)exits);
	return 0;
}
