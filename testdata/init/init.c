/*
 * init.c - the smallest useful /init for a govmm test guest.
 *
 * The Linux kernel runs /init from the initramfs as process 1. This one does
 * these things and nothing else:
 *
 *   0. with "spin" on the command line, spins in user space forever
 *      without a single system call, so that it stays up on every host
 *      kind (an emulated-ring-0 host faults the first one) while the
 *      kernel does the work: the network tests ping the kernel's IP stack
 *      and stop govmm from outside,
 *   1. writes "govmm-guest: hello from user space\n" to fd 1,
 *   1b. if a file /pause exists, waits forever (a test that stops govmm
 *      from outside needs a guest that is up and stays up),
 *   2. writes "govmm-guest: realtime SECONDS\n", the guest's wall clock
 *      (CLOCK_REALTIME) as it starts: a test compares it with the host's,
 *   3. ends the machine the way the kernel command line asks. The kernel
 *      passes the words after "--" to /init as arguments:
 *        (none)        power off,
 *        reboot        reboot,
 *        reboot-once   reboot if the first byte of /dev/vda is not 'R'
 *                      (after writing 'R' there), else power off: with
 *                      govmm -reboot restart the guest boots twice;
 *        io-loop       write /dev/vda over and over, 4 KiB blocks each
 *                      filled with one byte value, with an fdatasync every
 *                      64 blocks, until the machine is stopped from outside
 *                      (a test sends govmm SIGTERM during heavy I/O);
 *   4. if that fails, exits (a panic the VMM sees).
 *
 * How power-off reaches govmm: govmm gives the guest ACPI tables (package
 * acpi; on unless -acpi=off). The kernel's ACPI power-off writes SLP_TYP=S5
 * with SLP_EN to the FADT's sleep control register, an I/O port govmm
 * emulates (devices/acpipm); a reboot writes the FADT's reset register.
 * Without ACPI (-acpi=off, or "acpi=off" on the kernel command line) the
 * kernel has no power-off method: it turns LINUX_REBOOT_CMD_POWER_OFF into
 * "reboot: System halted", a halt with interrupts disabled, which govmm must
 * treat as a hang (exit 4).
 *
 * There is no C library: every system call is one x86-64 `syscall`
 * instruction written as inline assembly. Build it fully static and with no
 * start-up files, so the kernel jumps straight to _start below:
 *
 *   gcc -static -nostdlib -ffreestanding -Os -fno-pie -no-pie \
 *       -fno-stack-protector -fno-asynchronous-unwind-tables \
 *       -Wl,--build-id=none -Wl,-z,noseparate-code \
 *       -Wall -Wextra -Werror -o init init.c
 *
 * Where do fds 0, 1 and 2 come from? We open nothing. Before the kernel starts
 * /init it opens /dev/console on fd 0 and duplicates it to fds 1 and 2, as
 * long as the initramfs contains a /dev/console character device (5,1). The
 * govmm initramfs builder always adds one.
 *
 * Note for govmm's own KVM hosts (docs/HOST-KVM.md): there, a ring-3
 * `syscall` never reaches the kernel, so the FIRST system call faults and the
 * kernel prints "init[1]: segfault at ...". That is why the write comes first
 * and nothing else runs before it: the segfault line proves /init started.
 */

/* System call numbers, from arch/x86/entry/syscalls/syscall_64.tbl. */
#define SYS_write         1
#define SYS_open          2
#define SYS_pread64       17
#define SYS_pwrite64      18
#define SYS_access        21
#define SYS_pause         34
#define SYS_exit          60
#define SYS_fsync         74
#define SYS_fdatasync     75
#define SYS_mount         165
#define SYS_reboot        169
#define SYS_clock_gettime 228

#define O_RDWR         2
#define CLOCK_REALTIME 0

/* reboot(2) arguments, from <linux/reboot.h>. The two magic numbers guard
 * against a stray call; the command says what to do. */
#define LINUX_REBOOT_MAGIC1       0xfee1deadUL
#define LINUX_REBOOT_MAGIC2       672274793UL /* 0x28121969 */
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedcUL
#define LINUX_REBOOT_CMD_RESTART   0x01234567UL

/*
 * syscall4 issues one system call with up to four arguments.
 *
 * The x86-64 Linux convention: the number goes in rax, the arguments in rdi,
 * rsi, rdx and r10 (not rcx: the `syscall` instruction itself overwrites rcx
 * with the return address and r11 with the flags, so both are clobbered).
 * The result comes back in rax; -4095..-1 means -errno.
 * The "memory" clobber tells the compiler the kernel may read our buffers,
 * so it must not keep them only in registers or drop the stores.
 */
static long syscall4(long nr, long a1, long a2, long a3, long a4)
{
	register long r10 __asm__("r10") = a4;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

/* syscall5 is syscall4 with a fifth argument, which goes in r8. */
static long syscall5(long nr, long a1, long a2, long a3, long a4, long a5)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The message the host-side tests look for on the serial console. */
static const char msg[] = "govmm-guest: hello from user space\n";

/* say writes the NUL-terminated string s to fd 1. */
static void say(const char *s)
{
	long n = 0;

	while (s[n])
		n++;
	syscall4(SYS_write, 1, (long)s, n, 0);
}

/* streq compares two NUL-terminated strings. */
static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* say_realtime writes "govmm-guest: realtime SECONDS\n". */
static void say_realtime(void)
{
	long ts[2] = {0, 0}; /* struct timespec: tv_sec, tv_nsec */
	char buf[64] = "govmm-guest: realtime ";
	char digits[24];
	int n = 0, i = 22;
	unsigned long sec;

	syscall4(SYS_clock_gettime, CLOCK_REALTIME, (long)ts, 0, 0);
	sec = (unsigned long)ts[0];
	do {
		digits[n++] = (char)('0' + sec % 10);
		sec /= 10;
	} while (sec);
	while (n)
		buf[i++] = digits[--n];
	buf[i++] = '\n';
	buf[i] = 0;
	say(buf);
}

/* open_vda mounts devtmpfs on /dev and opens /dev/vda read-write; it
 * returns the descriptor or a negative errno. */
static long open_vda(void)
{
	/* mount(2) takes five arguments: the last, data, must be NULL. It
	 * fails with EBUSY when an earlier call already mounted it. */
	syscall5(SYS_mount, (long)"devtmpfs", (long)"/dev", (long)"devtmpfs", 0, 0);
	return syscall4(SYS_open, (long)"/dev/vda", O_RDWR, 0, 0);
}

/* reboot_once reports whether this boot should reboot: it mounts devtmpfs
 * to reach /dev/vda, reads its first byte and, when that is not 'R', writes
 * 'R' and syncs it, so that the next boot powers off. */
static int reboot_once(void)
{
	char c = 0;
	long fd;

	fd = open_vda();
	if (fd < 0 || syscall4(SYS_pread64, fd, (long)&c, 1, 0) != 1) {
		say("govmm-guest: reboot-once: cannot read /dev/vda\n");
		return 0;
	}
	if (c == 'R') {
		say("govmm-guest: second boot\n");
		return 0;
	}
	c = 'R';
	if (syscall4(SYS_pwrite64, fd, (long)&c, 1, 0) != 1 || syscall4(SYS_fsync, fd, 0, 0, 0) != 0) {
		say("govmm-guest: reboot-once: cannot write /dev/vda\n");
		return 0;
	}
	say("govmm-guest: first boot, rebooting\n");
	return 1;
}

/* io_loop writes /dev/vda forever: block i of pass p is 4096 bytes of the
 * value (i + p) % 251 + 1, so every block on the disk is uniform, whatever
 * moment the machine stops at. The fill loop must not become a memset call
 * (there is no C library), hence the optimize attribute. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns")))
static void io_loop(void)
{
	static char block[4096];
	long fd = open_vda(), pass, i, j;

	if (fd < 0) {
		say("govmm-guest: io-loop: cannot open /dev/vda\n");
		for (;;)
			syscall4(SYS_pause, 0, 0, 0, 0);
	}
	say("govmm-guest: io-loop writing\n");
	for (pass = 0;; pass++) {
		for (i = 0;; i++) {
			for (j = 0; j < (long)sizeof(block); j++)
				block[j] = (char)((i + pass) % 251 + 1);
			if (syscall4(SYS_pwrite64, fd, (long)block, sizeof(block), i * (long)sizeof(block)) != (long)sizeof(block))
				break; /* the end of the disk */
			if (i % 64 == 63)
				syscall4(SYS_fdatasync, fd, 0, 0, 0);
		}
	}
}

/*
 * _start is the ELF entry point (there is no main: -nostdlib means no crt1.o
 * to call one). The kernel enters it with the stack pointer at argc, then
 * argv[0..argc-1], NULL, then the environment (the System V x86-64 ABI,
 * "Process Initialization"). It passes that pointer to start_c with the
 * stack aligned as a call expects. Nothing returns here.
 */
__asm__(".globl _start\n"
	"_start:\n"
	"\tmov %rsp, %rdi\n"
	"\tand $-16, %rsp\n"
	"\tcall start_c\n"
	"\thlt\n");

__attribute__((noreturn, used)) void start_c(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	unsigned long cmd = LINUX_REBOOT_CMD_POWER_OFF;
	long i;

	/* 0. Reading argv is plain memory access: no system call. */
	for (i = 1; i < argc; i++)
		if (streq(argv[i], "spin"))
			for (;;)
				__asm__ volatile("pause");

	/* 1. The first system call: write(1, msg, len). sizeof counts the
	 *    terminating NUL, so subtract one. */
	syscall4(SYS_write, 1, (long)msg, sizeof(msg) - 1, 0);

	/* 1b. access("/pause", F_OK) returns 0 when the file exists. */
	if (syscall4(SYS_access, (long)"/pause", 0, 0, 0) == 0)
		for (;;)
			syscall4(SYS_pause, 0, 0, 0, 0);

	/* 2. The wall clock, which the kernel read from the CMOS RTC (or from
	 *    kvm-clock) at boot. */
	say_realtime();

	/* 3. Power off or reboot. On success this call never returns: govmm
	 *    ends the run (exit 0) or, with -reboot restart, boots again. */
	for (i = 1; i < argc; i++) {
		if (streq(argv[i], "reboot"))
			cmd = LINUX_REBOOT_CMD_RESTART;
		if (streq(argv[i], "reboot-once") && reboot_once())
			cmd = LINUX_REBOOT_CMD_RESTART;
		if (streq(argv[i], "io-loop"))
			io_loop();
	}
	syscall4(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd, 0);

	/* 4. It failed. When process 1 exits the kernel panics with
	 *    "Attempted to kill init! exitcode=0x00000100", which is a loud,
	 *    visible end. exit cannot return, but if it somehow did, sleep
	 *    forever instead of running off the end of _start. */
	for (;;) {
		syscall4(SYS_exit, 1, 0, 0, 0);
		syscall4(SYS_pause, 0, 0, 0, 0);
	}
}
