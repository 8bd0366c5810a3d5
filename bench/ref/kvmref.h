/*
 * kvmref: bare C KVM reference programs for govmm's benchmarks.
 *
 * setup.c builds a VM the way govmm's machine package does for a raw guest
 * in RawUser mode (machine/machine.go, cpu_setup.go, layout.go, load.go):
 * the same ioctls in the same order, the same guest-physical layout, and a
 * single vCPU in 64-bit mode at CPL 3, where this host (kvm_pvm) runs guest
 * code natively (docs/HOST-KVM.md).
 */
#ifndef KVMREF_H
#define KVMREF_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Guest-physical layout (machine/layout.go). */
#define REF_MEM_SIZE       (16u << 20)    /* one slot of RAM at 0 */
#define REF_GDT_ADDR       0x500
#define REF_IDT_ADDR       0x700          /* limit 0 */
#define REF_TSS_ADDR       0x1000         /* 64-bit TSS + I/O bitmap */
#define REF_STACK_TOP      0x8000
#define REF_PML4_ADDR      0x9000
#define REF_PDPT_ADDR      0xA000
#define REF_PD_ADDR        0xB000         /* four PDs: 4 GiB of 2 MiB pages */
#define REF_CODE_ADDR      0x10000        /* govmm's default -raw-addr */
#define REF_IDENTITY_MAP   0xFFFBC000ull  /* KVM_SET_IDENTITY_MAP_ADDR */
#define REF_TSS_REGION     0xFFFBD000ul   /* KVM_SET_TSS_ADDR */

/* Ports of the measurement guests. */
#define REF_PORT_RESET     0x64           /* i8042 command: 0xfe = reset */

struct ref_vm {
	int kvm;                /* /dev/kvm */
	int vm;                 /* KVM_CREATE_VM */
	int vcpu;               /* KVM_CREATE_VCPU 0 */
	struct kvm_run *run;    /* the vCPU's mmapped kvm_run */
	size_t run_size;
	uint8_t *mem;           /* guest RAM, REF_MEM_SIZE bytes at GPA 0 */
};

/* die prints "prog: message" (with errno text when errno_too) and exits 2. */
void die(int errno_too, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/*
 * ref_vm_create makes the VM, its RAM slot and vCPU 0 with CPUID set, and
 * loads code at REF_CODE_ADDR with the CPL-3 long-mode state: the VM is
 * ready for KVM_RUN. It exits 2 on any failure.
 */
void ref_vm_create(struct ref_vm *v, const uint8_t *code, size_t len);

/* ref_run does one KVM_RUN (retrying EINTR) and returns run->exit_reason. */
uint32_t ref_run(struct ref_vm *v);

/* ref_bad_exit reports an exit the program did not expect and exits 2. */
void ref_bad_exit(const struct ref_vm *v) __attribute__((noreturn));

/* ref_check_cpl3 dies unless the vCPU is still in 64-bit mode at CPL 3:
 * a guest that fell to ring 0 would run emulated here and mean nothing. */
void ref_check_cpl3(const struct ref_vm *v);

/* ref_parse_n parses a loop count 1..0xffffffff (ECX in the guest) from
 * argv[1]; extra arguments are the caller's. */
uint32_t ref_parse_n(int argc, char **argv);

/* ref_reader_mode reads the optional argv[2] of the kick programs: 1 (a
 * waiting reader thread) without it, 0 for "noreader"; anything else dies. */
int ref_reader_mode(int argc, char **argv);

/* ref_now_ns is CLOCK_MONOTONIC in nanoseconds. */
uint64_t ref_now_ns(void);

/*
 * A waiting reader: a thread that does what govmm's virtio worker does
 * (devices/virtio/worker.go): poll(2) on the eventfd, then drain it with one
 * read, until it has counted want signals. A kick then wakes a waiter, as
 * in govmm with the device live. ref_reader_join dies unless the thread
 * counted exactly want signals; wakeups is how many reads it took.
 */
struct ref_reader {
	pthread_t thread;
	int efd;
	uint64_t want, signals, wakeups;
};
void ref_reader_start(struct ref_reader *r, int efd, uint64_t want);
void ref_reader_join(struct ref_reader *r);

/* ref_read_eventfd reads an eventfd's counter (which resets it) and dies
 * unless it equals want; it returns the count. */
uint64_t ref_read_eventfd(int efd, uint32_t want);

#endif
