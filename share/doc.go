// Package share serves one host directory over 9P2000.L, for virtio-9p.
//
// New returns a p9.Attacher for github.com/hugelgupf/p9's server. Every
// File it hands out holds an O_PATH descriptor of its inode, obtained by
// walking one name at a time with openat2(2) and RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS from a descriptor that is itself beneath the share
// root. Every other operation is a *at() system call on such a descriptor
// with a single checked name, or reaches the inode itself through
// /proc/self/fd. So no operation resolves a path outside the share: ".."
// and names with '/' are refused, and the server never follows a symbolic
// link on the host (the guest kernel follows them itself, in its own
// namespace).
//
// Kernel pseudo file systems (procfs, sysfs and the like) mounted below
// the share show as empty directories: a guest can mount its own there,
// but cannot read the host's /proc/kcore or /proc/PID/mem through a share
// of "/".
//
// A read-only share refuses every modifying operation with EROFS.
package share
