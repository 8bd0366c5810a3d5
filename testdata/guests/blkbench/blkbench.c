/*
 * blkbench: a freestanding CPL-3 guest that drives govmm's virtio-blk PCI
 * device directly, for the benchmark suite (bench/cmd/govmm-bench, rows 2
 * and 5). No interrupts: it polls the used ring.
 *
 * It runs as `-raw -raw-mode user` (64-bit, CPL 3, every port open through
 * the TSS I/O bitmap, 4 GiB identity-mapped with U/S set, so the PCI BAR
 * window at 0xC000_0000 is reachable). The host writes struct params at
 * PARAMS_ADDR before the run; the guest marks the start and the end of the
 * timed part with an OUT to MARK_PORT, fills in the results and resets the
 * VM through the i8042 (OUT 0x64, 0xfe).
 *
 * Spec references are to virtio 1.2: §4.1.4 (PCI capabilities), §3.1.1
 * (driver initialization), §2.7 (split virtqueues), §5.2.6 (block requests).
 *
 * Build (bench.BuildBlkbench does this at run time, into build/bench/):
 *   gcc -O2 -Wall -Wextra -Werror -ffreestanding -nostdlib -fno-pie -no-pie \
 *       -mno-red-zone -mgeneral-regs-only -fno-stack-protector \
 *       -fno-asynchronous-unwind-tables -static -Wl,--build-id=none \
 *       -Wl,--no-warn-rwx-segments -Wl,-T,link.ld -o blkbench.elf blkbench.c
 *   objcopy -O binary blkbench.elf blkbench.bin
 */
#include <stddef.h>
#include <stdint.h>

#include "params.h"

/* _start: the raw guest's entry at 0x10000 with RSP = 0x8000. */
__asm__(".section .text.start, \"ax\"\n"
	".globl _start\n"
	"_start:\n"
	"	and $-16, %rsp\n"
	"	call bench_main\n"
	"	mov $0xfe, %al\n"
	"	out %al, $0x64\n" /* i8042: pulse reset, the end of the run */
	"1:	jmp 1b\n"
	".text\n");

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *d, int c, size_t n)
{
	volatile uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	volatile uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

#define barrier() __asm__ __volatile__("" ::: "memory")

static inline void outl(uint16_t port, uint32_t v) { __asm__ __volatile__("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint8_t rd8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t rd16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t rd32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void wr8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void wr16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void wr32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
/* 64-bit common-configuration fields, written as two 32-bit halves
 * (§4.1.3.1: the driver may access them as two 32-bit fields). */
static inline void wr64(uint64_t a, uint64_t v)
{
	wr32(a, (uint32_t)v);
	wr32(a + 4, (uint32_t)(v >> 32));
}

static volatile struct params *const P = (volatile struct params *)(uintptr_t)PARAMS_ADDR;

static void fail(uint32_t code, uint32_t detail)
{
	P->error = code;
	P->detail = detail;
	outl(MARK_PORT, MARK_FAIL | code);
}

/* PCI configuration mechanism #1 (ports 0xCF8/0xCFC), bus 0, function 0. */
static uint32_t pci_read(unsigned dev, unsigned off)
{
	outl(0xCF8, 0x80000000u | dev << 11 | (off & 0xFC));
	return inl(0xCFC);
}

static void pci_write(unsigned dev, unsigned off, uint32_t v)
{
	outl(0xCF8, 0x80000000u | dev << 11 | (off & 0xFC));
	outl(0xCFC, v);
}

static uint8_t pci_read8(unsigned dev, unsigned off) { return (uint8_t)(pci_read(dev, off) >> (8 * (off & 3))); }

/* struct virtio_pci_common_cfg (§4.1.4.3). */
enum {
	C_DFSEL = 0x00, C_DF = 0x04, C_GFSEL = 0x08, C_GF = 0x0C,
	C_MSIX = 0x10, C_NUMQ = 0x12, C_STATUS = 0x14, C_QSEL = 0x16,
	C_QSIZE = 0x18, C_QMSIX = 0x1A, C_QENABLE = 0x1C, C_QNOTIFYOFF = 0x1E,
	C_QDESC = 0x20, C_QDRIVER = 0x28, C_QDEVICE = 0x30,
};

enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8 };

/* Split virtqueue layout (§2.7). */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
enum { D_NEXT = 1, D_WRITE = 2 };

#define QMAX       256u
#define MAXREQ     64u
#define DESC_ADDR  0x100000ul /* 16 * 256 bytes */
#define AVAIL_ADDR 0x101000ul /* flags, idx, ring[256], used_event */
#define USED_ADDR  0x102000ul /* flags, idx, ring[256] of {id, len}, avail_event */
#define HDR_ADDR   0x103000ul /* MAXREQ request headers of 16 bytes */
#define STAT_ADDR  0x103800ul /* MAXREQ status bytes */

struct blkreq {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct dev {
	uint64_t common, notify;
	uint32_t mult; /* notify_off_multiplier */
	uint16_t qsize;
};

/* find_device walks bus 0 for the virtio-blk function (1af4:1042) and its
 * capabilities; it fills d->common and the queue 0 notify address. */
static int find_device(struct dev *d)
{
	unsigned slot;
	uint64_t bar0 = 0, common = 0, notify_base = 0;
	uint32_t mult = 0;
	int found = 0;

	for (slot = 0; slot < 32; slot++) {
		if (pci_read(slot, 0) == 0x10421af4u) {
			found = 1;
			break;
		}
	}
	if (!found) {
		fail(FAIL_NO_DEVICE, 0);
		return -1;
	}
	/* Memory space and bus mastering on (they already are in govmm). */
	pci_write(slot, 0x04, (pci_read(slot, 0x04) & 0xFFFF) | 0x6);
	/* BAR 0 is a 64-bit memory BAR (type bits 2:1 = 10b). */
	bar0 = (pci_read(slot, 0x10) & ~0xFull) | (uint64_t)pci_read(slot, 0x14) << 32;
	P->bar0 = bar0;
	if (!(pci_read(slot, 0x04) >> 16 & 0x10)) { /* status: capability list */
		fail(FAIL_NO_CAPS, 0);
		return -1;
	}
	/* §4.1.4: vendor capabilities (ID 9): cfg_type at +3, bar at +4,
	 * offset at +8, length at +12; the notify capability adds
	 * notify_off_multiplier at +16. The first of each type wins. */
	unsigned pos = pci_read8(slot, 0x34) & 0xFC;
	for (int n = 0; pos && n < 48; n++) {
		uint32_t h = pci_read(slot, pos);
		uint8_t type = (uint8_t)(h >> 24), bar = pci_read8(slot, pos + 4);
		uint64_t off = pci_read(slot, pos + 8);

		if ((h & 0xFF) == 0x09 && bar == 0) {
			if (type == 1 && !common)
				common = bar0 + off;
			if (type == 2 && !notify_base) {
				notify_base = bar0 + off;
				mult = pci_read(slot, pos + 16);
			}
		}
		pos = (h >> 8) & 0xFC;
	}
	if (!common || !notify_base) {
		fail(FAIL_NO_CAPS, (common != 0) | (notify_base != 0) << 1);
		return -1;
	}
	d->common = common;
	d->notify = notify_base; /* plus queue_notify_off * mult: init_device */
	d->mult = mult;
	return 0;
}

/* init_device performs §3.1.1 with VIRTIO_F_VERSION_1 only and sets up
 * queue 0 in guest RAM. Without live it stops short of DRIVER_OK, so the
 * device's worker never starts. */
static int init_device(struct dev *d, int live)
{
	uint64_t c = d->common;
	int i;

	wr8(c + C_STATUS, 0); /* reset */
	for (i = 0; rd8(c + C_STATUS) != 0; i++) {
		if (i > 1000) {
			fail(FAIL_RESET, rd8(c + C_STATUS));
			return -1;
		}
	}
	wr8(c + C_STATUS, S_ACK);
	wr8(c + C_STATUS, S_ACK | S_DRIVER);
	wr32(c + C_DFSEL, 1);
	if (!(rd32(c + C_DF) & 1)) { /* feature bit 32: VERSION_1 */
		fail(FAIL_FEATURES, 1);
		return -1;
	}
	wr32(c + C_GFSEL, 0);
	wr32(c + C_GF, 0);
	wr32(c + C_GFSEL, 1);
	wr32(c + C_GF, 1);
	wr8(c + C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd8(c + C_STATUS) & S_FEATURES_OK)) {
		fail(FAIL_FEATURES, 2);
		return -1;
	}
	wr16(c + C_MSIX, 0xFFFF); /* VIRTIO_MSI_NO_VECTOR */
	wr16(c + C_QSEL, 0);
	uint16_t max = rd16(c + C_QSIZE);
	if (max < 4) {
		fail(FAIL_QUEUE, max);
		return -1;
	}
	d->qsize = max < QMAX ? max : QMAX;
	P->qsize = d->qsize;
	wr16(c + C_QSIZE, d->qsize);
	wr16(c + C_QMSIX, 0xFFFF);
	memset((void *)DESC_ADDR, 0, 0x4000);
	/* VIRTQ_AVAIL_F_NO_INTERRUPT: we poll (without EVENT_IDX). */
	wr16(AVAIL_ADDR, 1);
	wr64(c + C_QDESC, DESC_ADDR);
	wr64(c + C_QDRIVER, AVAIL_ADDR);
	wr64(c + C_QDEVICE, USED_ADDR);
	d->notify += (uint64_t)rd16(c + C_QNOTIFYOFF) * d->mult;
	P->notify = d->notify;
	wr16(c + C_QENABLE, 1);
	if (live)
		wr8(c + C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return 0;
}

static void kick(const struct dev *d) { wr16(d->notify, 0); }

/* kick_loop: count writes of the queue index to the notify register, the
 * way Linux's vp_notify does (iowrite16). With KVM_IOEVENTFD bound by
 * govmm, none of them exits to user space. */
static void kick_loop(const struct dev *d, uint64_t count)
{
	outl(MARK_PORT, MARK_START);
	for (uint64_t i = 0; i < count; i++)
		kick(d);
	outl(MARK_PORT, MARK_END);
}

/* Driver state for the read loop. */
static uint64_t req_off[MAXREQ];

static void submit(const struct dev *d, uint16_t *avail_idx, unsigned i, uint64_t off)
{
	volatile struct desc *t = (volatile struct desc *)DESC_ADDR;
	volatile struct blkreq *h = (volatile struct blkreq *)(HDR_ADDR + 16 * i);
	uint64_t buf = P->buf_base + (uint64_t)i * P->req_bytes;
	unsigned k = 3 * i;

	h->type = 0; /* VIRTIO_BLK_T_IN */
	h->reserved = 0;
	h->sector = off / 512;
	wr8(STAT_ADDR + i, 0xFF);
	t[k] = (struct desc){HDR_ADDR + 16 * i, 16, D_NEXT, (uint16_t)(k + 1)};
	t[k + 1] = (struct desc){buf, P->req_bytes, D_NEXT | D_WRITE, (uint16_t)(k + 2)};
	t[k + 2] = (struct desc){STAT_ADDR + i, 1, D_WRITE, 0};
	req_off[i] = off;
	wr16(AVAIL_ADDR + 4 + 2 * (*avail_idx % d->qsize), (uint16_t)k);
	barrier(); /* the ring entry before the index that publishes it (x86: stores stay in order) */
	(*avail_idx)++;
	wr16(AVAIL_ADDR + 2, *avail_idx);
}

/* check_pages verifies the stamp at the start of every 4 KiB page. */
static int check_pages(unsigned i)
{
	uint64_t buf = P->buf_base + (uint64_t)i * P->req_bytes, x = P->stamp_xor;

	for (uint64_t p = 0; p < P->req_bytes; p += 4096) {
		if (*(volatile uint64_t *)(buf + p) != ((req_off[i] + p) ^ x)) {
			fail(FAIL_DATA, (uint32_t)((req_off[i] + p) / 4096));
			return -1;
		}
	}
	P->pages += P->req_bytes / 4096;
	return 0;
}

static void read_loop(const struct dev *d)
{
	uint64_t total = P->count, next = 0, done = 0;
	uint32_t req = P->req_bytes;
	unsigned k = P->inflight, i;
	uint16_t avail_idx = 0, used_seen = 0;

	if (k == 0 || k > MAXREQ || 3 * k > d->qsize || req == 0 || req % 4096 || total % req) {
		fail(FAIL_PARAMS, k);
		return;
	}
	/* Touch the buffers first: the pages are then present in guest and
	 * host, as dd's reused buffer is. */
	for (uint64_t a = 0; a < (uint64_t)k * req; a += 4096)
		*(volatile uint64_t *)(P->buf_base + a) = 0;

	outl(MARK_PORT, MARK_START);
	for (i = 0; i < k && next < total; i++, next += req)
		submit(d, &avail_idx, i, next);
	kick(d);
	while (done < total) {
		uint16_t used_idx;
		int added = 0;

		while ((used_idx = rd16(USED_ADDR + 2)) == used_seen)
			__asm__ __volatile__("pause");
		barrier();
		while (used_seen != used_idx) {
			uint64_t e = USED_ADDR + 4 + 8 * (used_seen % d->qsize);
			uint32_t id = rd32(e), len = rd32(e + 4);

			used_seen++;
			i = id / 3;
			if (id % 3 || i >= k || len != req + 1) {
				fail(FAIL_USED, id);
				return;
			}
			if (rd8(STAT_ADDR + i) != 0) {
				fail(FAIL_STATUS, rd8(STAT_ADDR + i));
				return;
			}
			if (check_pages(i))
				return;
			done += req;
			P->bytes = done;
			P->requests++;
			if (next < total) {
				submit(d, &avail_idx, i, next);
				next += req;
				added = 1;
			}
		}
		if (added)
			kick(d);
	}
	outl(MARK_PORT, MARK_END);
}

void bench_main(void)
{
	struct dev d = {0};

	if (P->magic != PARAMS_MAGIC) {
		fail(FAIL_MAGIC, P->magic);
		return;
	}
	if (find_device(&d) || init_device(&d, P->mode != MODE_KICK_IDLE))
		return;
	switch (P->mode) {
	case MODE_READ:
		read_loop(&d);
		break;
	case MODE_KICK:
	case MODE_KICK_IDLE:
		kick_loop(&d, P->count);
		break;
	default:
		fail(FAIL_PARAMS, P->mode);
	}
}
