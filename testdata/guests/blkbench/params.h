/*
 * The block the benchmark host writes into guest RAM before the run, and
 * the guest fills in: bench/blkbench.go mirrors this layout (all fields
 * little-endian, offsets fixed).
 */
#ifndef BLKBENCH_PARAMS_H
#define BLKBENCH_PARAMS_H

#include <stdint.h>

#define PARAMS_ADDR   0xF000u     /* free page between the page tables and the image */
#define PARAMS_MAGIC  0x50424247u /* "GBBP" */

#define MARK_PORT     0x511       /* 32-bit OUT: MARK_START, MARK_END, or MARK_FAIL|code */
#define MARK_START    1u
#define MARK_END      2u
#define MARK_FAIL     0x100u

enum mode {
	MODE_READ = 1, /* read count bytes sequentially, then report */
	MODE_KICK = 2, /* write the queue 0 notify register count times */
	MODE_KICK_IDLE = 3, /* the same before DRIVER_OK: no device worker waits on the eventfd */
};

/* Failure codes (params.error; also OUT MARK_FAIL|code). */
enum fail {
	FAIL_MAGIC = 1,      /* the host did not fill in the parameters */
	FAIL_NO_DEVICE,      /* no 1af4:1042 on PCI bus 0 */
	FAIL_NO_CAPS,        /* a virtio capability is missing */
	FAIL_RESET,          /* device_status did not read back 0 */
	FAIL_FEATURES,       /* no VERSION_1, or FEATURES_OK refused */
	FAIL_QUEUE,          /* queue 0 missing or too small */
	FAIL_STATUS,         /* a request completed with status != OK (detail: status) */
	FAIL_DATA,           /* a page held the wrong stamp (detail: page number) */
	FAIL_PARAMS,         /* sizes the guest cannot lay out */
	FAIL_USED,           /* the used ring returned an unknown id or length */
};

struct params {
	uint32_t magic;     /* 0x00 in: PARAMS_MAGIC */
	uint32_t mode;      /* 0x04 in: enum mode */
	uint64_t count;     /* 0x08 in: bytes to read, or kicks */
	uint32_t req_bytes; /* 0x10 in: data bytes per request (multiple of 4096) */
	uint32_t inflight;  /* 0x14 in: requests in flight (<= 64) */
	uint64_t buf_base;  /* 0x18 in: guest-physical start of the data buffers */
	uint64_t stamp_xor; /* 0x20 in: page p of the disk starts with (p*4096) ^ stamp_xor */
	uint32_t error;     /* 0x28 out: enum fail, 0 when all went well */
	uint32_t detail;    /* 0x2c out */
	uint64_t bytes;     /* 0x30 out: data bytes read */
	uint64_t requests;  /* 0x38 out: requests completed */
	uint64_t pages;     /* 0x40 out: pages whose stamp was checked */
	uint64_t bar0;      /* 0x48 out: BAR 0 address */
	uint64_t notify;    /* 0x50 out: queue 0 notify address */
	uint32_t qsize;     /* 0x58 out: queue size used */
	uint32_t pad;       /* 0x5c */
};

#endif
