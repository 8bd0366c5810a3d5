// Package guestinit is the guest side of "govmm exec" and the pieces of a
// Linux /init that set up a root for a command: the mounts (a 9p root, an
// overlay whose upper layer is guest memory, fresh /proc /sys /dev
// /dev/pts /dev/shm /run), the chroot, running the command with its
// environment and turning its end into an exit status. The nested test
// host's L1 init (package nestedhost) uses the same pieces.
//
// govmm exec puts govmm itself into an initramfs as /init, with a job
// (Job, at JobPath) that says what to run. When govmm starts as PID 1 and
// finds the job, it runs ExecMain instead of its command line:
//
//  1. mount /proc, /sys and /dev in the initramfs;
//  2. open /dev/hvc0 (the virtio console), put it in raw mode and say
//     FrameReady: from then on the console carries only frames (proto.go);
//  3. mount the root share (tag Job.RootTag) read-only at /lower, a tmpfs
//     at /scratch, and an overlay of the two at /newroot, so that the
//     command may write anywhere and nothing reaches the host; each
//     Job.RW share is mounted read-write at its path inside /newroot;
//  4. mount fresh kernel file systems in /newroot, chroot there and
//     chdir to Job.Dir;
//  5. run Job.Argv as root with Job.Env, its stdin fed from FrameStdin
//     frames and its stdout and stderr sent as FrameStdout and
//     FrameStderr frames;
//  6. send FrameExit with its exit status, wait until the console has
//     sent it, sync, and power the machine off (reboot(2) POWER_OFF).
//
// A failure before the command starts is sent as FrameError when the
// console is open, and always written to the kernel console (ttyS0),
// which govmm exec prints when the run fails.
package guestinit
