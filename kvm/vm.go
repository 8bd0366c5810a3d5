package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// VM is a KVM virtual machine fd.
type VM struct {
	fd int
	// runSize is the size of each VCPU's kvm_run mapping.
	runSize int
}

// Close closes the VM fd. The VM lives on while VCPU fds remain open.
func (vm *VM) Close() error { return unix.Close(vm.fd) }

// SetTSSAddr sets the three-page region Intel VT-x needs for real-mode
// emulation (KVM_SET_TSS_ADDR). It must not overlap RAM or MMIO.
func (vm *VM) SetTSSAddr(addr uint64) error {
	if _, err := ioctlVal(vm.fd, ioctlSetTSSAddr, uintptr(addr)); err != nil {
		return fmt.Errorf("KVM_SET_TSS_ADDR(%#x): %w", addr, err)
	}
	return nil
}

// SetIdentityMapAddr sets the one-page EPT identity map used by VT-x for
// real mode (KVM_SET_IDENTITY_MAP_ADDR).
func (vm *VM) SetIdentityMapAddr(addr uint64) error {
	a := addr
	if _, err := ioctlPtr(vm.fd, ioctlSetIdentityMapAddr, &a); err != nil {
		return fmt.Errorf("KVM_SET_IDENTITY_MAP_ADDR(%#x): %w", addr, err)
	}
	return nil
}

// CreateIRQChip creates the in-kernel PIC, IOAPIC and per-VCPU local APICs.
func (vm *VM) CreateIRQChip() error {
	if _, err := ioctlVal(vm.fd, ioctlCreateIRQChip, 0); err != nil {
		return fmt.Errorf("KVM_CREATE_IRQCHIP: %w", err)
	}
	return nil
}

// CreatePIT2 creates the in-kernel i8254 timer (and the port 0x61 speaker
// latch). Call it after CreateIRQChip.
func (vm *VM) CreatePIT2() error {
	c := &pitConfig{}
	if _, err := ioctlPtr(vm.fd, ioctlCreatePIT2, c); err != nil {
		return fmt.Errorf("KVM_CREATE_PIT2: %w", err)
	}
	return nil
}

// SetUserMemoryRegion maps host memory mem at guest-physical addr in the given
// slot (KVM_SET_USER_MEMORY_REGION).
func (vm *VM) SetUserMemoryRegion(slot uint32, addr uint64, mem []byte) error {
	if len(mem) == 0 {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: slot %d is empty", slot)
	}
	r := &userspaceMemoryRegion{
		Slot:          slot,
		GuestPhysAddr: addr,
		MemorySize:    uint64(len(mem)),
		UserspaceAddr: sliceAddr(mem),
	}
	if _, err := ioctlPtr(vm.fd, ioctlSetUserMemRegion, r); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION(slot %d at %#x): %w", slot, addr, err)
	}
	return nil
}

// IRQLine sets the level of an interrupt line of the in-kernel irqchip
// (KVM_IRQ_LINE). For an edge-triggered ISA line, raise then lower it.
func (vm *VM) IRQLine(irq uint32, high bool) error {
	l := &irqLevel{IRQ: irq}
	if high {
		l.Level = 1
	}
	if _, err := ioctlPtr(vm.fd, ioctlIRQLine, l); err != nil {
		return fmt.Errorf("KVM_IRQ_LINE(%d): %w", irq, err)
	}
	return nil
}

// IOEventFD flags (struct kvm_ioeventfd.flags).
const (
	ioeventfdDatamatch = 1 << 0
	ioeventfdPIO       = 1 << 1
	ioeventfdDeassign  = 1 << 2
)

// IOEvent describes one KVM_IOEVENTFD binding: a guest write of Len bytes to
// Addr signals FD inside the kernel, with no exit to user space.
type IOEvent struct {
	Addr uint64
	// Len is the access width matched (1, 2, 4 or 8), or 0 for any width.
	Len uint32
	FD  int
	// PIO selects the port I/O bus instead of MMIO.
	PIO bool
	// Datamatch, when HasDatamatch is set, restricts the binding to writes
	// of exactly this value.
	Datamatch    uint64
	HasDatamatch bool
}

// IOEventFD binds (or with deassign, unbinds) an ioeventfd.
func (vm *VM) IOEventFD(e IOEvent, deassign bool) error {
	k := &ioeventfd{Addr: e.Addr, Len: e.Len, FD: int32(e.FD), Datamatch: e.Datamatch}
	if e.PIO {
		k.Flags |= ioeventfdPIO
	}
	if e.HasDatamatch {
		k.Flags |= ioeventfdDatamatch
	}
	if deassign {
		k.Flags |= ioeventfdDeassign
	}
	if _, err := ioctlPtr(vm.fd, ioctlIOEventFD, k); err != nil {
		return fmt.Errorf("KVM_IOEVENTFD(%#x): %w", e.Addr, err)
	}
	return nil
}

// SignalMSI injects one MSI message (KVM_SIGNAL_MSI). It is safe to call from
// any goroutine. It returns nil when the message was delivered or blocked by
// the guest (KVM returns 0 for a blocked interrupt).
func (vm *VM) SignalMSI(addr uint64, data uint32) error {
	m := &msi{AddressLo: uint32(addr), AddressHi: uint32(addr >> 32), Data: data}
	if _, err := ioctlPtr(vm.fd, ioctlSignalMSI, m); err != nil {
		return fmt.Errorf("KVM_SIGNAL_MSI(%#x, %#x): %w", addr, data, err)
	}
	return nil
}

// CreateVCPU creates VCPU id and maps its kvm_run area.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	r, err := ioctlVal(vm.fd, ioctlCreateVCPU, uintptr(id))
	if err != nil {
		return nil, fmt.Errorf("KVM_CREATE_VCPU(%d): %w", id, err)
	}
	fd := int(r)
	run, err := unix.Mmap(fd, 0, vm.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mmap kvm_run of VCPU %d: %w", id, err)
	}
	return &VCPU{fd: fd, id: id, run: run}, nil
}

// reinjectControl is struct kvm_reinject_control.
type reinjectControl struct {
	PITReinject uint8
	_           [31]uint8
}

// SetPITReinject turns the in-kernel PIT's lost-tick reinjection on or off
// (KVM_REINJECT_CONTROL). With it on, ticks the guest missed are delivered
// later in a burst; with it off they are dropped.
func (vm *VM) SetPITReinject(on bool) error {
	r := &reinjectControl{}
	if on {
		r.PITReinject = 1
	}
	if _, err := ioctlPtr(vm.fd, ioctlReinjectControl, r); err != nil {
		return fmt.Errorf("KVM_REINJECT_CONTROL: %w", err)
	}
	return nil
}
