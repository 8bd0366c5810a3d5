/*
 * mmiokick N: cost of one guest MMIO write that KVM completes in the kernel
 * by signalling an eventfd (api.rst, KVM_IOEVENTFD without
 * KVM_IOEVENTFD_FLAG_PIO), with no exit to user space. This is how a
 * virtio-pci driver kicks a queue: Linux's vp_notify does a 16-bit
 * iowrite16 of the queue index to the notify register in BAR 0.
 *
 * The guest, at CPL 3, does N 16-bit stores to KICK_ADDR, a guest-physical
 * address in govmm's PCI window (machine/layout.go) that no memory slot
 * backs, bound with KVM_IOEVENTFD (len 2, no datamatch); then OUT 0x64
 * (i8042 reset), the only exit expected.
 *
 * By default a reader thread waits on the eventfd the whole time (poll, then
 * read), as govmm's virtio worker does once the device is live: each kick
 * may wake it, and the reader must count N signals in all. With "noreader"
 * nobody waits, and one read afterwards must return N.
 *
 *   mmiokick N [noreader]
 */
#include "kvmref.h"

#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Inside the PCI MMIO window at 0xC000_0000 (identity-mapped with U/S set,
 * so CPL 3 reaches it); the notify offset of govmm's virtio BAR layout. */
#define KICK_ADDR 0xC0003000u

int main(int argc, char **argv)
{
	uint32_t n = ref_parse_n(argc, argv);
	int reader = ref_reader_mode(argc, argv);
	struct ref_reader rd;
	/* as --64, checked with objdump -d. */
	uint8_t code[] = {
		0xb9, 0, 0, 0, 0,             /*    mov ecx, N              */
		0xbf, 0x00, 0x30, 0x00, 0xc0, /*    mov edi, KICK_ADDR      */
		0x31, 0xc0,                   /*    xor eax, eax            */
		0x66, 0x89, 0x07,             /* 1: mov word ptr [rdi], ax  */
		0xff, 0xc9,                   /*    dec ecx                 */
		0x75, 0xf9,                   /*    jnz 1b                  */
		0xb0, 0xfe,                   /*    mov al, 0xfe            */
		0xe6, 0x64,                   /*    out 0x64, al            */
		0xeb, 0xfe,                   /*    jmp $                   */
	};
	uint32_t addr = KICK_ADDR;
	struct ref_vm v;
	struct kvm_ioeventfd io;
	uint64_t exits = 0, signals = 0, t0, t1;
	int efd;

	memcpy(code + 1, &n, 4);     /* little-endian imm32 */
	memcpy(code + 6, &addr, 4);
	ref_vm_create(&v, code, sizeof code);

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		die(1, "eventfd");
	/* api.rst, KVM_IOEVENTFD: an MMIO write of len bytes at addr signals
	 * fd; without KVM_IOEVENTFD_FLAG_DATAMATCH any value matches. */
	memset(&io, 0, sizeof io);
	io.addr = KICK_ADDR;
	io.len = 2;
	io.fd = efd;
	io.flags = 0;
	if (ioctl(v.vm, KVM_IOEVENTFD, &io) < 0)
		die(1, "KVM_IOEVENTFD (MMIO %#x)", KICK_ADDR);

	if (reader)
		ref_reader_start(&rd, efd, n);
	t0 = ref_now_ns();
	for (;;) {
		uint32_t reason = ref_run(&v);
		struct kvm_run *r = v.run;

		exits++;
		/* A KVM_EXIT_MMIO here would mean the ioeventfd did not catch
		 * the store. */
		if (reason == KVM_EXIT_IO && r->io.direction == KVM_EXIT_IO_OUT &&
		    r->io.port == REF_PORT_RESET)
			break;
		if (reason == KVM_EXIT_MMIO)
			die(0, "MMIO exit at %#llx (len %u): the ioeventfd did not catch it",
			    (unsigned long long)r->mmio.phys_addr, r->mmio.len);
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

	printf("mmio_kick_ns %.1f\n", (double)(t1 - t0) / (double)n);
	printf("signals %llu\n", (unsigned long long)signals);
	if (reader)
		printf("wakeups %llu\n", (unsigned long long)rd.wakeups);
	printf("exits %llu\n", (unsigned long long)exits);
	return 0;
}
