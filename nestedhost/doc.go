// Package nestedhost runs one command on a nested test host: a Linux "L1"
// booted under QEMU's TCG, whose emulated CPU has AMD-V with nested paging,
// so that Debian's stock kernel loads kvm-amd and offers a /dev/kvm with
// hardware-virtualization semantics. It gives every machine a real KVM,
// including machines that have no /dev/kvm of their own and machines whose
// KVM emulates guest ring 0 (docs/HOST-KVM.md).
//
// The pieces, in the order a run uses them:
//
//   - assets.go: QEMU from Debian's qemu-system-x86, and the L1 kernel and the
//     modules it needs, extracted from Debian's linux-image package and cached
//     in ~/.cache/govmm/nested/.
//   - modules.go: the load order of those modules, from each module's own
//     .modinfo "depends=" list.
//   - job.go: what the L1 is asked to run, and the status it answers.
//   - host.go: the initramfs, the QEMU command line, streaming the console,
//     the timeout, and making sure no QEMU process outlives the run.
//   - guest_linux.go: the L1's /init (this same static binary, run as PID 1):
//     it loads the modules, mounts the host's root read-only over virtio-9p,
//     chroots into it, runs the command and powers off. The mounts, the /tmp
//     overlay, the chroot and running the command are package guestinit's,
//     shared with govmm exec's guest init.
//
// The command's stdout and stderr both arrive on the run's output (they share
// the L1's serial console); its exit status comes back through a small file
// in a writable 9p share.
package nestedhost
