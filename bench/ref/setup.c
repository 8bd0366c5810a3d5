/* VM set-up shared by the reference programs; see kvmref.h. */
#define _GNU_SOURCE
#include "kvmref.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void die(int errno_too, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errno_too)
		fprintf(stderr, ": %s", strerror(e));
	fputc('\n', stderr);
	exit(2);
}

/* xioctl runs an ioctl and dies naming it when it fails. */
#define xioctl(fd, req, arg)                                          \
	({                                                            \
		int r_ = ioctl((fd), (req), (arg));                   \
		if (r_ < 0)                                           \
			die(1, "%s", #req);                           \
		r_;                                                   \
	})

/* Boot GDT selectors (machine/cpu_setup.go). */
enum {
	SEL_CODE32 = 0x08,
	SEL_CODE64 = 0x10,
	SEL_DATA = 0x18,
	SEL_USER_DATA = 0x20 | 3,
	SEL_USER_CODE = 0x28 | 3,
	SEL_TSS = 0x30, /* 16-byte system descriptor: slots 6 and 7 */
	GDT_ENTRIES = 8,
	/* 104-byte TSS, 8 KiB I/O permission bitmap, closing 0xff byte
	 * (SDM vol. 1, 19.5.2). */
	TSS_HEADER = 0x68,
	TSS_SIZE = TSS_HEADER + 0x2000 + 1,
};

/* gdt_entry encodes a descriptor from flags (G, D/B, L, AVL in the high
 * nibble) and access byte (P, DPL, S, type), SDM vol. 3A 3.4.5. */
static uint64_t gdt_entry(uint8_t flags, uint8_t access, uint32_t base, uint32_t limit)
{
	return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(flags & 0xf0) << 48 | (uint64_t)(base >> 24) << 56;
}

static void boot_gdt(uint64_t g[GDT_ENTRIES])
{
	memset(g, 0, GDT_ENTRIES * sizeof g[0]);
	g[SEL_CODE32 >> 3] = gdt_entry(0xc0, 0x9b, 0, 0xfffff);    /* 32-bit code */
	g[SEL_CODE64 >> 3] = gdt_entry(0xa0, 0x9b, 0, 0xfffff);    /* 64-bit code, L=1 */
	g[SEL_DATA >> 3] = gdt_entry(0xc0, 0x93, 0, 0xfffff);      /* data */
	g[SEL_USER_DATA >> 3] = gdt_entry(0xc0, 0xf3, 0, 0xfffff); /* data, DPL 3 */
	g[SEL_USER_CODE >> 3] = gdt_entry(0xa0, 0xfb, 0, 0xfffff); /* 64-bit code, DPL 3 */
	/* Busy 64-bit TSS (type 0xb); base[63:32] = 0 in slot 7. */
	g[SEL_TSS >> 3] = gdt_entry(0x00, 0x8b, REF_TSS_ADDR, TSS_SIZE - 1);
}

/* segment turns a GDT descriptor into a struct kvm_segment (api.rst,
 * KVM_GET_SREGS). */
static struct kvm_segment segment(uint16_t sel, uint64_t d)
{
	struct kvm_segment s = {0};
	uint32_t limit = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 48) & 0xf) << 16;

	s.g = (d >> 55) & 1;
	if (s.g)
		limit = limit << 12 | 0xfff;
	s.base = ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
	s.limit = limit;
	s.selector = sel;
	s.type = (d >> 40) & 0xf;
	s.s = (d >> 44) & 1;
	s.dpl = (d >> 45) & 3;
	s.present = (d >> 47) & 1;
	s.avl = (d >> 52) & 1;
	s.l = (d >> 53) & 1;
	s.db = (d >> 54) & 1;
	return s;
}

static void put64(uint8_t *mem, uint64_t gpa, uint64_t val) { memcpy(mem + gpa, &val, 8); }

/* write_boot_tables: the GDT, the TSS with an all-zero I/O bitmap (this host
 * does not keep RFLAGS.IOPL for CPL 3, so the bitmap is what lets the guest
 * use IN/OUT), and identity page tables for 4 GiB with U/S set
 * (machine/cpu_setup.go writeBootTables, SDM vol. 3A 4.5). */
static void write_boot_tables(uint8_t *mem)
{
	uint64_t g[GDT_ENTRIES];
	const uint64_t flags = 1 | 2 | 4; /* present, writable, user */
	uint16_t iomap = TSS_HEADER;

	boot_gdt(g);
	memcpy(mem + REF_GDT_ADDR, g, sizeof g);

	memset(mem + REF_TSS_ADDR, 0, TSS_SIZE);
	memcpy(mem + REF_TSS_ADDR + 0x66, &iomap, 2); /* I/O map base */
	mem[REF_TSS_ADDR + TSS_SIZE - 1] = 0xff;

	memset(mem + REF_PML4_ADDR, 0, 0x1000);
	put64(mem, REF_PML4_ADDR, REF_PDPT_ADDR | flags);
	memset(mem + REF_PDPT_ADDR, 0, 0x1000);
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t pd = REF_PD_ADDR + i * 0x1000;

		put64(mem, REF_PDPT_ADDR + 8 * i, pd | flags);
		for (uint64_t j = 0; j < 512; j++)
			put64(mem, pd + 8 * j, ((i * 512 + j) << 21) | flags | 0x80 /* PS */);
	}
}

/* set_cpuid: KVM_GET_SUPPORTED_CPUID, then the per-CPU topology fields govmm
 * fills in for vCPU 0 of 1 (machine/cpuid.go), then KVM_SET_CPUID2 (api.rst,
 * KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2). */
static void set_cpuid(struct ref_vm *v)
{
	struct kvm_cpuid2 *c = NULL;

	for (uint32_t n = 256;; n *= 2) {
		c = realloc(c, sizeof *c + n * sizeof c->entries[0]);
		if (!c)
			die(1, "allocating %u CPUID entries", n);
		memset(c, 0, sizeof *c + n * sizeof c->entries[0]);
		c->nent = n;
		if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		/* E2BIG: the array is too small (api.rst). */
		if (errno != E2BIG || n >= 4096)
			die(1, "KVM_GET_SUPPORTED_CPUID");
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* EBX: APIC ID 0, 1 logical CPU; ECX[31]: hypervisor. */
			e->ebx = (e->ebx & 0xffff) | 0u << 24 | 1u << 16;
			e->ecx |= 1u << 31;
			break;
		case 0xb:
		case 0x1f:
			e->edx = 0; /* x2APIC ID */
			break;
		}
	}
	xioctl(v->vcpu, KVM_SET_CPUID2, c);
	free(c);
}

/* set_user_state: 64-bit mode with paging, CPL 3, RIP at the code
 * (machine/cpu_setup.go longModeSregs, machine/load.go loadRaw; api.rst,
 * KVM_SET_SREGS and KVM_SET_REGS). */
static void set_user_state(struct ref_vm *v)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	uint64_t g[GDT_ENTRIES];
	struct kvm_segment code, data;

	boot_gdt(g);
	xioctl(v->vcpu, KVM_GET_SREGS, &s);
	code = segment(SEL_USER_CODE, g[SEL_USER_CODE >> 3]);
	data = segment(SEL_USER_DATA, g[SEL_USER_DATA >> 3]);
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = segment(SEL_TSS, g[SEL_TSS >> 3]);
	s.gdt.base = REF_GDT_ADDR;
	s.gdt.limit = GDT_ENTRIES * 8 - 1;
	s.idt.base = REF_IDT_ADDR;
	s.idt.limit = 0;
	s.cr0 = 0x80050033; /* PG AM WP NE ET MP PE */
	s.cr3 = REF_PML4_ADDR;
	s.cr4 = 0x20;       /* PAE */
	s.efer = 0x500;     /* LMA LME */
	xioctl(v->vcpu, KVM_SET_SREGS, &s);

	memset(&r, 0, sizeof r);
	r.rip = REF_CODE_ADDR;
	r.rsp = REF_STACK_TOP;
	r.rflags = 0x3002; /* IOPL 3, reserved bit 1 */
	xioctl(v->vcpu, KVM_SET_REGS, &r);
}

void ref_vm_create(struct ref_vm *v, const uint8_t *code, size_t len)
{
	/* Capabilities govmm requires (machine/machine.go createVM). */
	static const struct { long cap; const char *name; } caps[] = {
		{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
		{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
		{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
		{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
		{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
		{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	};
	struct kvm_pit_config pit = {.flags = 0};
	struct kvm_userspace_memory_region region;
	uint64_t idmap = REF_IDENTITY_MAP;
	int ver, sz;

	memset(v, 0, sizeof *v);
	if (len > REF_MEM_SIZE - REF_CODE_ADDR)
		die(0, "guest code of %zu bytes does not fit", len);

	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0)
		die(1, "open /dev/kvm");
	/* api.rst, KVM_GET_API_VERSION: must be 12. */
	ver = xioctl(v->kvm, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION)
		die(0, "KVM API version %d, want %d", ver, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		if (xioctl(v->kvm, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			die(0, "this KVM lacks %s", caps[i].name);

	/* api.rst, KVM_CREATE_VM: machine type 0. */
	v->vm = xioctl(v->kvm, KVM_CREATE_VM, 0);
	/* api.rst, KVM_SET_TSS_ADDR: three pages for VT-x real mode. */
	xioctl(v->vm, KVM_SET_TSS_ADDR, REF_TSS_REGION);
	/* api.rst, KVM_SET_IDENTITY_MAP_ADDR: one page below the TSS. */
	xioctl(v->vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	/* api.rst, KVM_CREATE_IRQCHIP: in-kernel PIC, IOAPIC and LAPICs. */
	xioctl(v->vm, KVM_CREATE_IRQCHIP, 0);
	/* api.rst, KVM_CREATE_PIT2: flags 0. */
	xioctl(v->vm, KVM_CREATE_PIT2, &pit);

	/* Guest RAM (memory/mmap.go); api.rst, KVM_SET_USER_MEMORY_REGION. */
	v->mem = mmap(NULL, REF_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->mem == MAP_FAILED)
		die(1, "mmap %u bytes of guest memory", REF_MEM_SIZE);
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.flags = 0,
		.guest_phys_addr = 0,
		.memory_size = REF_MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)v->mem,
	};
	xioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region);

	/* api.rst, KVM_CREATE_VCPU and KVM_GET_VCPU_MMAP_SIZE. */
	v->vcpu = xioctl(v->vm, KVM_CREATE_VCPU, 0);
	sz = xioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((size_t)sz < sizeof(struct kvm_run))
		die(0, "KVM_GET_VCPU_MMAP_SIZE: %d is smaller than struct kvm_run", sz);
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED)
		die(1, "mmap kvm_run (%zu bytes)", v->run_size);
	set_cpuid(v);

	/* Load the guest (machine/load.go loadRaw, RawUser). */
	memcpy(v->mem + REF_CODE_ADDR, code, len);
	write_boot_tables(v->mem);
	set_user_state(v);
}

uint32_t ref_run(struct ref_vm *v)
{
	/* api.rst, KVM_RUN: EINTR means a signal arrived; just re-enter. */
	while (ioctl(v->vcpu, KVM_RUN, 0) < 0)
		if (errno != EINTR)
			die(1, "KVM_RUN");
	return v->run->exit_reason;
}

void ref_bad_exit(const struct ref_vm *v)
{
	const struct kvm_run *r = v->run;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		die(0, "unexpected %s port %#x (size %u, count %u)",
		    r->io.direction == KVM_EXIT_IO_OUT ? "OUT to" : "IN from",
		    r->io.port, r->io.size, r->io.count);
	case KVM_EXIT_SHUTDOWN:
		die(0, "guest triple fault (KVM_EXIT_SHUTDOWN)");
	case KVM_EXIT_INTERNAL_ERROR:
		die(0, "KVM_EXIT_INTERNAL_ERROR, suberror %u", r->internal.suberror);
	case KVM_EXIT_FAIL_ENTRY:
		die(0, "KVM_EXIT_FAIL_ENTRY, hardware reason %#llx",
		    (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
	default:
		die(0, "unexpected exit reason %u", r->exit_reason);
	}
}

void ref_check_cpl3(const struct ref_vm *v)
{
	struct kvm_sregs s;

	xioctl(v->vcpu, KVM_GET_SREGS, &s);
	if ((s.cs.selector & 3) != 3 || s.cs.dpl != 3 || !s.cs.l || !(s.efer & 0x400))
		die(0, "guest left 64-bit CPL 3 (CS %#x, DPL %u, L %u, EFER %#llx)",
		    s.cs.selector, s.cs.dpl, s.cs.l, (unsigned long long)s.efer);
}

uint32_t ref_parse_n(int argc, char **argv)
{
	char *end;
	unsigned long long n;

	if (argc < 2)
		die(0, "usage: %s N (number of OUTs, 1..4294967295)", program_invocation_short_name);
	errno = 0;
	n = strtoull(argv[1], &end, 10);
	/* N = 0 would make the guest's dec/jnz loop run 2^32 times. */
	if (errno || *end || end == argv[1] || argv[1][0] == '-' || n < 1 || n > 0xffffffffull)
		die(0, "N must be an integer from 1 to 4294967295, not %s", argv[1]);
	return (uint32_t)n;
}

int ref_reader_mode(int argc, char **argv)
{
	if (argc == 2)
		return 1;
	if (argc == 3 && strcmp(argv[2], "noreader") == 0)
		return 0;
	die(0, "usage: %s N [noreader]", program_invocation_short_name);
}

uint64_t ref_now_ns(void)
{
	struct timespec t;

	if (clock_gettime(CLOCK_MONOTONIC, &t) < 0)
		die(1, "clock_gettime");
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

uint64_t ref_read_eventfd(int efd, uint32_t want)
{
	uint64_t signals = 0;
	/* eventfd(2): read returns the 8-byte counter and resets it to 0. */
	ssize_t got = read(efd, &signals, sizeof signals);

	if (got != (ssize_t)sizeof signals)
		die(got < 0, "read eventfd%s", got < 0 ? "" : ": short read");
	if (signals != want)
		die(0, "eventfd counted %llu signals, want %u", (unsigned long long)signals, want);
	return signals;
}

static void *reader_main(void *arg)
{
	struct ref_reader *r = arg;
	struct pollfd p = {.fd = r->efd, .events = POLLIN};

	while (r->signals < r->want) {
		uint64_t v;
		ssize_t got;

		p.revents = 0;
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(1, "reader: poll");
		}
		/* eventfd(2): read returns the counter and resets it. */
		got = read(r->efd, &v, sizeof v);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got != (ssize_t)sizeof v)
			die(got < 0, "reader: read eventfd");
		r->signals += v;
		r->wakeups++;
	}
	return NULL;
}

void ref_reader_start(struct ref_reader *r, int efd, uint64_t want)
{
	int e;

	memset(r, 0, sizeof *r);
	r->efd = efd;
	r->want = want;
	e = pthread_create(&r->thread, NULL, reader_main, r);
	if (e) {
		errno = e;
		die(1, "pthread_create");
	}
}

void ref_reader_join(struct ref_reader *r)
{
	int e = pthread_join(r->thread, NULL);

	if (e) {
		errno = e;
		die(1, "pthread_join");
	}
	if (r->signals != r->want)
		die(0, "reader counted %llu signals, want %llu",
		    (unsigned long long)r->signals, (unsigned long long)r->want);
}
