package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// APIVersion is the only stable KVM API version (api.rst 4.1).
const APIVersion = 12

// System is an open /dev/kvm.
type System struct {
	fd int
}

// Open opens the KVM device (normally /dev/kvm) and checks its API version.
func Open(path string) (*System, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &System{fd: fd}
	v, err := s.APIVersion()
	if err != nil {
		s.Close()
		return nil, err
	}
	if v != APIVersion {
		s.Close()
		return nil, fmt.Errorf("%s: KVM API version %d, want %d", path, v, APIVersion)
	}
	return s, nil
}

// Close closes /dev/kvm. VMs created from it stay valid.
func (s *System) Close() error { return unix.Close(s.fd) }

// APIVersion returns KVM_GET_API_VERSION.
func (s *System) APIVersion() (int, error) {
	r, err := ioctlVal(s.fd, ioctlGetAPIVersion, 0)
	if err != nil {
		return 0, fmt.Errorf("KVM_GET_API_VERSION: %w", err)
	}
	return int(r), nil
}

// CheckExtension returns KVM_CHECK_EXTENSION for c: 0 when absent, otherwise
// a positive, capability-specific value.
func (s *System) CheckExtension(c Cap) (int, error) {
	r, err := ioctlVal(s.fd, ioctlCheckExtension, uintptr(c))
	if err != nil {
		return 0, fmt.Errorf("KVM_CHECK_EXTENSION(%v): %w", c, err)
	}
	return int(r), nil
}

// VCPUMmapSize returns the size of the kvm_run area to mmap from a VCPU fd.
func (s *System) VCPUMmapSize() (int, error) {
	r, err := ioctlVal(s.fd, ioctlGetVCPUMmapSize, 0)
	if err != nil {
		return 0, fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	return int(r), nil
}

// maxCPUIDEntries bounds KVM_GET_SUPPORTED_CPUID; KVM itself allows 256.
const maxCPUIDEntries = 256

// cpuid2 is struct kvm_cpuid2 with room for maxCPUIDEntries entries.
type cpuid2 struct {
	Nent    uint32
	_       uint32
	Entries [maxCPUIDEntries]CPUIDEntry
}

// SupportedCPUID returns KVM_GET_SUPPORTED_CPUID: the CPUID leaves KVM can
// present to a guest, as a starting point for KVM_SET_CPUID2.
func (s *System) SupportedCPUID() ([]CPUIDEntry, error) {
	c := &cpuid2{Nent: maxCPUIDEntries}
	if _, err := ioctlPtr(s.fd, ioctlGetSupportedCPUID, c); err != nil {
		return nil, fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	return append([]CPUIDEntry(nil), c.Entries[:c.Nent]...), nil
}

// CreateVM creates a VM (KVM_CREATE_VM, machine type 0).
func (s *System) CreateVM() (*VM, error) {
	r, err := ioctlVal(s.fd, ioctlCreateVM, 0)
	if err != nil {
		return nil, fmt.Errorf("KVM_CREATE_VM: %w", err)
	}
	size, err := s.VCPUMmapSize()
	if err != nil {
		unix.Close(int(r))
		return nil, err
	}
	return &VM{fd: int(r), runSize: size}, nil
}
