package machine

import (
	"fmt"
	"io"

	"github.com/govmm/govmm/compat"
)

// RawMode is the CPU mode a raw (-raw) guest starts in.
type RawMode int

// Raw guest modes.
const (
	// RawReal starts in 16-bit real mode with CS:IP at the load address.
	RawReal RawMode = iota
	// RawLong starts in 64-bit mode at CPL 0 on the identity map.
	RawLong
	// RawUser starts in 64-bit mode at CPL 3 with IOPL 3, so that ring-3
	// code may use IN/OUT: the mode that runs natively on emulated-ring-0
	// hosts.
	RawUser
)

// ParseRawMode parses -raw-mode.
func ParseRawMode(s string) (RawMode, error) {
	switch s {
	case "real":
		return RawReal, nil
	case "long":
		return RawLong, nil
	case "user":
		return RawUser, nil
	}
	return 0, fmt.Errorf("-raw-mode: %q is not real, long or user", s)
}

func (r RawMode) String() string { return [...]string{"real", "long", "user"}[r] }

// Config describes one virtual machine. Exactly one of Kernel, Raw or
// RawImage is set. Plan (or Validate) checks a Config and its files without
// touching KVM; New does that first too.
type Config struct {
	// MemSize is guest RAM in bytes.
	MemSize uint64
	// CPUs is the number of VCPUs (1 when zero).
	CPUs int

	// Kernel is a bzImage or an ELF vmlinux (booted through PVH); Initrd
	// and Cmdline go with it.
	Kernel  string
	Initrd  string
	Cmdline string
	// InitrdImage is an initrd held in memory instead of the file Initrd
	// (govmm exec builds one); at most one of the two is set.
	InitrdImage []byte

	// Raw is a flat binary loaded at RawAddr (rawDefaultAddr when zero)
	// and started in RawMode. RawImage is the same from memory (the demo).
	Raw      string
	RawImage []byte
	RawMode  RawMode
	RawAddr  uint64

	// Disks are virtio-blk devices, in order (/dev/vda, /dev/vdb, ...).
	Disks []Disk
	// Shares are host directories served over virtio-9p, one device each,
	// in order; the guest mounts each by its tag.
	Shares []Share
	// Nets are virtio-net devices, in order (eth0, eth1, ...), each on a
	// tap or on user-mode networking.
	Nets []Net
	// RNG adds a virtio-rng device fed from the host's getrandom.
	RNG bool
	// VirtioConsole adds a virtio console (hvc0) that writes to Console,
	// or to VirtioConsoleOut when that is set.
	VirtioConsole    bool
	VirtioConsoleOut io.Writer
	// ACPI writes ACPI tables (RSDP at acpiAddr, package acpi) for a
	// Kernel guest, so that it can power off and reboot through ACPI. The
	// MP table is written either way.
	ACPI bool

	// Console receives the serial port's output.
	Console io.Writer
	// Log receives -v messages; nil discards them.
	Log io.Writer
	// Compat selects the emulated-ring-0 compatibility layer.
	Compat compat.Mode
	// Stats turns on exit timing for the -stats table.
	Stats bool
	// Profile samples guest RIPs 50 times a second for WriteProfile.
	Profile bool
	// KVMPath is the KVM device, /dev/kvm when empty.
	KVMPath string
	// BeforeRun, if set, is called by Run once, after set-up and before
	// any VCPU first enters KVM_RUN: the place to confine the process
	// (sandbox.Install). An error ends the run with ExitError.
	BeforeRun func() error
}
