// Package e2e boots the test kernel with the govmm binary and checks what a
// user sees: the serial console, the exit code and how long it took.
//
// The tests need the test kernel (make kernel) and the test initramfs; `make
// test` builds both and passes their paths in GOVMM_KERNEL_DIR, GOVMM_BIN and
// GOVMM_INITRAMFS. Run alone, the tests build govmm and the initramfs
// themselves and look for the kernel in the cache. They are built only with
// the kvm tag, fail when the kernel is missing, and skip only on a
// developer's machine without /dev/kvm (package kvmtest).
package e2e
