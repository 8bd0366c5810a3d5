// Package initramfs builds the initial RAM file system that govmm hands to a
// Linux guest: an UNCOMPRESSED newc cpio archive (the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst).
//
// It is uncompressed on purpose: on govmm's development hosts the guest kernel
// runs under instruction emulation, and inflating a gzip archive there costs
// about a minute (docs/HOST-KVM.md).
//
// Every archive holds the same skeleton, because the kernel needs it to start
// /init with a console on fds 0, 1 and 2:
//
//	.            directory 0755
//	dev          directory 0755
//	dev/console  character device 5,1, mode 0600
//	init         regular file 0755 (Spec.Init)
//
// plus any extra host files from Spec.Files, with the directories they need.
// The output is deterministic: records are sorted by path and every time,
// owner and inode number is fixed, so the same inputs give the same bytes.
package initramfs

import "io"

// Spec describes an initramfs.
type Spec struct {
	// Init is the contents of /init (mode 0755), the program the kernel
	// runs as process 1. It must not be empty.
	Init []byte

	// Files maps an archive path (such as "bin/busybox" or "/etc/motd") to
	// the host path of a regular file whose contents and permission bits
	// are copied in. Directories on the way are created as needed. Archive
	// paths are cleaned; ".." elements are rejected.
	Files map[string]string

	// Data maps an archive path to the contents of a regular file (mode
	// 0644) held in memory, such as a generated configuration file. Paths
	// are cleaned as for Files, and may not repeat one of Files.
	Data map[string][]byte
}

// Write writes the initramfs described by s to w as an uncompressed newc cpio
// archive, ending with the TRAILER!!! record.
//
// It checks the whole Spec (paths, host files) before writing any byte, so a
// bad Spec leaves w untouched. A host file that changes size while it is
// being copied is reported as an error.
func Write(w io.Writer, s Spec) error {
	entries, err := plan(s)
	if err != nil {
		return err
	}
	return writeEntries(w, entries)
}
