/*
 * pio N: the bare C KVM_RUN loop reference for govmm's BenchmarkPIOExit.
 *
 * The guest is guests.PIOLoop(N) (guests/guests.go), run at CPL 3: N OUTs to
 * port 0x510, each a KVM_EXIT_IO to user space that this loop ignores, then
 * OUT 0x64 (i8042 reset) which stops the loop. Prints the time from the first
 * OUT exit to the N-th divided by N-1: the exits alone, without VM entry
 * set-up or teardown (govmm's row 1 times the same span, in its device).
 */
#include "kvmref.h"

#include <stdio.h>
#include <string.h>

#define PIO_PORT 0x510 /* guests.PIOPort */

int main(int argc, char **argv)
{
	uint32_t n = ref_parse_n(argc, argv);
	uint8_t code[] = {
		0xb9, 0, 0, 0, 0,       /*    mov ecx, N          */
		0x66, 0xba, 0x10, 0x05, /*    mov dx, 0x510       */
		0xee,                   /* 1: out dx, al          */
		0xff, 0xc9,             /*    dec ecx             */
		0x75, 0xfb,             /*    jnz 1b              */
		0xb0, 0xfe,             /*    mov al, 0xfe        */
		0xe6, 0x64,             /*    out 0x64, al        */
		0xeb, 0xfe,             /*    jmp $               */
	};
	struct ref_vm v;
	uint64_t exits = 0, outs = 0, t0, t1;

	if (argc != 2)
		die(0, "usage: pio N");
	memcpy(code + 1, &n, 4); /* little-endian imm32 */
	ref_vm_create(&v, code, sizeof code);

	t0 = t1 = 0;
	for (;;) {
		uint32_t reason = ref_run(&v);
		struct kvm_run *r = v.run;

		exits++;
		/* api.rst, KVM_RUN, "KVM_EXIT_IO": one byte OUT per exit. */
		if (reason != KVM_EXIT_IO || r->io.direction != KVM_EXIT_IO_OUT ||
		    r->io.size != 1 || r->io.count != 1)
			ref_bad_exit(&v);
		if (r->io.port == PIO_PORT) {
			if (++outs == 1)
				t0 = ref_now_ns();
			else if (outs == n)
				t1 = ref_now_ns();
			continue;
		}
		if (r->io.port == REF_PORT_RESET)
			break;
		ref_bad_exit(&v);
	}
	t1 = ref_now_ns();
	ref_check_cpl3(&v);

	if (outs != n)
		die(0, "counted %llu exits on port %#x, want %u (at least 2)",
		    (unsigned long long)outs, PIO_PORT, n);
	/* N-1 exit round trips lie between the first OUT exit and the N-th. */
	printf("pio_exit_ns %.1f\n", (double)(t1 - t0) / (double)(n - 1));
	printf("exits %llu\n", (unsigned long long)exits);
	return 0;
}
