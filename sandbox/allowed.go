package sandbox

// This file is the whole allow-list: every system call govmm may make once
// the guest runs, each with the reason it is needed. Anything not here
// ends govmm with "forbidden system call N" (see SECURITY.md). Set-up
// (opening files and /dev/kvm, creating the VM, eventfds and threads'
// initial state) happens before Install and needs none of it.
//
// The list was found by running govmm under the filter: the demo guest, raw
// guests, a Linux boot with -smp 2, a virtio-blk disk, the virtio console,
// -stats and -profile, and the tests in this package, which also exercise
// the Go runtime (new threads, GC, timers, signals). To extend it, add one
// line with its reason; TestAllowedListWellFormed checks the form.

import "golang.org/x/sys/unix"

// Rule allows one system call (x86-64 name as in unistd_64.h).
type Rule struct {
	Name string
	// Why says who makes the call after set-up.
	Why string
	// Args, if not nil, allows the call only when its arguments satisfy
	// every condition.
	Args []Arg
}

// Arg is one condition on argument Index (0-5) of a system call.
type Arg struct {
	Index int
	Op    Op
	Value uint64
}

// Op compares a system call argument with Arg.Value.
type Op int

// Argument comparisons, as in seccomp(2)'s BPF programs.
const (
	// Equal: the argument is Value.
	Equal Op = iota
	// NotEqual: the argument is not Value.
	NotEqual
	// AllSet: every bit of Value is set (Value must be a single bit
	// here, as go-seccomp-bpf's BitsSet means "any bit").
	AllSet
	// NoneSet: no bit of Value is set.
	NoneSet
)

// cloneNamespaces are the clone(2) flags that would create namespaces.
const cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// Allowed are the system calls govmm may make after Install, ioctl aside
// (AllowedIoctls).
var Allowed = []Rule{
	// Guest I/O and devices.
	{Name: "read", Why: "eventfd drains (virtio), stdin to the guest console, the -system-map at exit"},
	{Name: "write", Why: "guest console to stdout, messages to stderr, eventfd signals (virtio), the -profile file"},
	{Name: "readv", Why: "virtio-net receives a frame from its tap straight into guest buffers"},
	{Name: "writev", Why: "virtio-net sends a frame from guest buffers to its tap or socket"},
	{Name: "recvmsg", Why: "virtio-net receives a frame from a user-mode network socket (to see MSG_TRUNC)"},
	{Name: "pread64", Why: "virtio-blk reads; the Go runtime rereads its cgroup CPU limit with it"},
	{Name: "pwrite64", Why: "virtio-blk writes"},
	{Name: "fsync", Why: "virtio-blk flush and the flush at exit (os.File.Sync)"},
	{Name: "fdatasync", Why: "virtio-blk flush in its data-only form (not made today; as harmless as fsync)"},
	{Name: "ftruncate", Why: "the -profile file, created during set-up, is cut to the histogram at exit"},
	{Name: "close", Why: "Machine.Close and closing files at exit"},
	{Name: "getrandom", Why: "virtio-rng entropy; the Go runtime's random seeds"},
	{Name: "ppoll", Why: "virtio worker goroutines wait on queue eventfds (x/sys unix.Poll is ppoll(2))"},
	{Name: "epoll_pwait", Why: "the Go network poller (stdin when it is a terminal or a pipe, os.File deadlines)"},
	{Name: "epoll_ctl", Why: "the Go network poller, removing a file from the poller on close"},

	// Threads, memory and time: the Go runtime.
	{Name: "futex", Why: "Go runtime: sleeping and waking threads"},
	{Name: "nanosleep", Why: "Go runtime: usleep in the scheduler and spinning"},
	{Name: "clock_gettime", Why: "time.Now and the runtime clock, should the vDSO fall back to the system call"},
	{Name: "sched_yield", Why: "Go runtime: osyield"},
	{Name: "sched_getaffinity", Why: "Go runtime: sysmon rechecks the CPU count for GOMAXPROCS"},
	{Name: "mmap", Why: "Go runtime heap and stacks; never executable memory", Args: []Arg{{2, NoneSet, unix.PROT_EXEC}}},
	{Name: "munmap", Why: "Go runtime heap; Machine.Close unmaps guest RAM and kvm_run"},
	{Name: "madvise", Why: "Go runtime: returning memory to the OS (scavenger, GC)"},
	{Name: "clone", Why: "Go runtime: new threads (Ms) after set-up; only threads, no new process or namespace",
		Args: []Arg{{0, AllSet, unix.CLONE_THREAD}, {0, NoneSet, cloneNamespaces}}},
	{Name: "exit", Why: "Go runtime: a thread ends"},
	{Name: "mprotect", Why: "cgo builds: glibc's pthread_create guards thread stacks, malloc grows arenas; never executable", Args: []Arg{{2, NoneSet, unix.PROT_EXEC}}},
	{Name: "set_robust_list", Why: "cgo builds: glibc registers every new thread's robust futex list"},
	{Name: "rseq", Why: "cgo builds: glibc registers every new thread for restartable sequences"},
	{Name: "exit_group", Why: "the process ends (os.Exit, and the SIGSYS handler itself)"},
	{Name: "gettid", Why: "VCPU loops record their thread for kicks; Go runtime"},
	{Name: "getpid", Why: "kicks and Go runtime preemption signal this process (tgkill's first argument)"},
	{Name: "tgkill", Why: "VCPU kicks (SIGUSR1 interrupts KVM_RUN) and Go runtime preemption (SIGURG)"},

	// Signals.
	{Name: "rt_sigreturn", Why: "return from every signal handler (kicks, preemption)"},
	{Name: "rt_sigprocmask", Why: "Go runtime: signal masks of new threads and in signal handling"},
	{Name: "sigaltstack", Why: "Go runtime: every new thread gets a signal stack"},
	{Name: "rt_sigaction", Why: "signal.Stop at exit (restoring an inherited SIG_IGN); never for SIGSYS, whose handler reports violations",
		Args: []Arg{{0, NotEqual, uint64(unix.SIGSYS)}}},
	{Name: "restart_syscall", Why: "the kernel resumes an interrupted nanosleep, poll or futex wait with it"},

	// ioctl is listed by request number in AllowedIoctls.
	{Name: "ioctl", Why: "KVM and terminal requests only: see AllowedIoctls"},
}

// FailENOSYS are system calls that fail with ENOSYS instead of ending
// govmm: callers that probe for them fall back to an older call the filter
// can check.
var FailENOSYS = []Rule{
	{Name: "clone3", Why: "cgo builds: glibc's pthread_create tries clone3 first, whose flags a filter cannot see, then falls back to clone"},
}

// Ioctl is one ioctl request allowed after set-up.
type Ioctl struct {
	Name string
	Req  uint64
	Why  string
}

// KVM ioctl numbers as <linux/kvm.h> defines them (package kvm has the same
// ones; TestKVMIoctlsMatchPackageKVM in package kvm compares them).
const (
	kvmIO = 0xAE

	iocWrite = 1
	iocRead  = 2
)

func kvmIoc(dir, nr, size uint64) uint64 { return dir<<30 | size<<16 | kvmIO<<8 | nr }

// AllowedIoctls are the ioctl requests govmm makes after set-up. VM and VCPU
// creation, memory slots and CPUID are set-up only and therefore refused.
var AllowedIoctls = []Ioctl{
	{"KVM_RUN", kvmIoc(0, 0x80, 0), "the VCPU loops"},
	{"KVM_GET_REGS", kvmIoc(iocRead, 0x81, 144), "sampler, crash reports, -profile, compat fix-ups"},
	{"KVM_SET_REGS", kvmIoc(iocWrite, 0x82, 144), "compat fix-ups skip an instruction or set RAX"},
	{"KVM_GET_SREGS", kvmIoc(iocRead, 0x83, 312), "reading guest code at RIP (crash reports, compat)"},
	{"KVM_TRANSLATE", kvmIoc(iocRead|iocWrite, 0x85, 24), "reading guest code at RIP through the guest's page tables"},
	{"KVM_GET_MP_STATE", kvmIoc(iocRead, 0x98, 4), "sampler: halted-forever detection"},
	{"KVM_GET_VCPU_EVENTS", kvmIoc(iocRead, 0x9f, 64), "compat fix-ups inject an exception"},
	{"KVM_SET_VCPU_EVENTS", kvmIoc(iocWrite, 0xa0, 64), "compat fix-ups inject an exception"},
	{"KVM_IRQ_LINE", kvmIoc(iocWrite, 0x61, 8), "device interrupts (UART, virtio INTx, RTC)"},
	{"KVM_SIGNAL_MSI", kvmIoc(iocWrite, 0xa5, 32), "virtio interrupts through MSI-X"},
	{"KVM_IOEVENTFD", kvmIoc(iocWrite, 0x79, 64), "re-binding virtio notify addresses when the guest moves a BAR"},
	{"KVM_REGISTER_COALESCED_MMIO", kvmIoc(iocWrite, 0x67, 16), "COM1's THR write is coalesced again when the guest's UART returns to polled transmit (IER.THRI and LCR.DLAB off)"},
	{"KVM_UNREGISTER_COALESCED_MMIO", kvmIoc(iocWrite, 0x68, 16), "COM1's THR write exits again when the guest enables the THR-empty interrupt or DLAB"},
	{"TCSETS", unix.TCSETS, "restoring the terminal at exit after raw mode"},
}

// FileServer are the calls the 9P server (package share, behind -share,
// -rootfs and govmm exec) makes while the guest runs: it walks, opens,
// reads, writes, creates and removes host files on the guest's behalf.
// openat2 with RESOLVE_BENEATH is what confines it to the shared directory
// (seccomp cannot look at the path or the open_how it points to, so that
// confinement is the share package's, not the filter's). Everything else
// stays forbidden: no exec, no sockets, no new VMs, no ptrace.
var FileServer = []Rule{
	{Name: "openat2", Why: "share: every walk and open, one name at a time, RESOLVE_BENEATH"},
	{Name: "openat", Why: "share: reopening an O_PATH descriptor through /proc/self/fd to read or write it"},
	{Name: "newfstatat", Why: "share: getattr and walk (fstatat with AT_EMPTY_PATH)"},
	{Name: "fstat", Why: "share: getattr of an open file"},
	{Name: "statx", Why: "share: getattr (the Go runtime's os.File.Stat may use it)"},
	{Name: "fstatfs", Why: "share: statfs, and telling pseudo filesystems (proc, sys) apart"},
	{Name: "getdents64", Why: "share: readdir"},
	{Name: "lseek", Why: "share: readdir offsets"},
	{Name: "readlinkat", Why: "share: readlink"},
	{Name: "mkdirat", Why: "share: mkdir"},
	{Name: "mknodat", Why: "share: mknod of FIFOs and sockets (device nodes are refused before it)"},
	{Name: "symlinkat", Why: "share: symlink"},
	{Name: "linkat", Why: "share: link"},
	{Name: "unlinkat", Why: "share: unlink and rmdir"},
	{Name: "renameat", Why: "share: rename"},
	{Name: "renameat2", Why: "share: rename"},
	{Name: "fchmodat", Why: "share: setattr mode"},
	{Name: "fchmod", Why: "share: setattr mode of an open file"},
	{Name: "fchownat", Why: "share: the guest's gid on new files, setattr uid/gid"},
	{Name: "fchown", Why: "share: setattr uid/gid of an open file"},
	{Name: "utimensat", Why: "share: setattr times"},
	{Name: "fallocate", Why: "share: the guest's fallocate"},
	{Name: "fcntl", Why: "share: descriptor flags (F_GETFL/F_SETFD) when opening"},
	{Name: "dup", Why: "share: a second descriptor for a cloned fid"},
	{Name: "fgetxattr", Why: "share: xattr reads, answered empty"},
	{Name: "flistxattr", Why: "share: xattr lists, answered empty"},
}

// RestartIoctls are the KVM requests that building a new VM takes: with
// -reboot restart, a guest reset builds the machine again from the same
// plan, after the sandbox is in place.
var RestartIoctls = []Ioctl{
	{"KVM_GET_API_VERSION", kvmIoc(0, 0x00, 0), "restart: opening /dev/kvm again"},
	{"KVM_CREATE_VM", kvmIoc(0, 0x01, 0), "restart: the new VM"},
	{"KVM_CHECK_EXTENSION", kvmIoc(0, 0x03, 0), "restart: the capability checks"},
	{"KVM_GET_VCPU_MMAP_SIZE", kvmIoc(0, 0x04, 0), "restart: mapping kvm_run"},
	{"KVM_GET_SUPPORTED_CPUID", kvmIoc(iocRead|iocWrite, 0x05, 8), "restart: the guest's CPUID"},
	{"KVM_CREATE_VCPU", kvmIoc(0, 0x41, 0), "restart: the VCPUs"},
	{"KVM_SET_USER_MEMORY_REGION", kvmIoc(iocWrite, 0x46, 32), "restart: guest RAM"},
	{"KVM_SET_TSS_ADDR", kvmIoc(0, 0x47, 0), "restart: the real-mode TSS pages"},
	{"KVM_SET_IDENTITY_MAP_ADDR", kvmIoc(iocWrite, 0x48, 8), "restart: the identity-map page"},
	{"KVM_CREATE_IRQCHIP", kvmIoc(0, 0x60, 0), "restart: the in-kernel PIC, IOAPIC and LAPICs"},
	{"KVM_REINJECT_CONTROL", kvmIoc(0, 0x71, 0), "restart: the PIT's reinjection mode"},
	{"KVM_CREATE_PIT2", kvmIoc(iocWrite, 0x77, 64), "restart: the in-kernel PIT"},
	{"KVM_SET_SREGS", kvmIoc(iocWrite, 0x84, 312), "restart: the boot VCPU's segments and paging"},
	{"KVM_SET_CPUID2", kvmIoc(iocWrite, 0x90, 8), "restart: the guest's CPUID"},
}

// Restart are the further calls building a new VM takes (-reboot
// restart): opening /dev/kvm, the kernel, the initrd and the disks again,
// eventfds for the new devices, and RestartIoctls. Processes, exec,
// sockets and executable memory stay forbidden.
var Restart = restartRules()

func restartRules() []Rule {
	r := []Rule{
		{Name: "openat", Why: "restart: /dev/kvm, the kernel, the initrd, the disks"},
		{Name: "newfstatat", Why: "restart: checking the files again (os.Stat)"},
		{Name: "fstat", Why: "restart: the size of an open file"},
		{Name: "lseek", Why: "restart: a disk's size"},
		{Name: "faccessat", Why: "restart: the host checks (access(2))"},
		{Name: "fcntl", Why: "restart: descriptor flags of newly opened files"},
		{Name: "eventfd2", Why: "restart: queue and stop eventfds of the new devices"},
		{Name: "prlimit64", Why: "restart: the Go runtime reads RLIMIT_NOFILE when opening files"},
	}
	for _, io := range RestartIoctls {
		r = append(r, Rule{Name: "ioctl", Why: io.Name + ": " + io.Why, Args: []Arg{{1, Equal, io.Req}}})
	}
	return r
}
