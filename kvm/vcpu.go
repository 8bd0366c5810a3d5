package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// VCPU is one virtual CPU. Run must be called from a single goroutine locked
// to its OS thread; the other methods may be called from that goroutine while
// it is not inside Run.
type VCPU struct {
	fd int
	id int
	// run is the shared kvm_run page (api.rst 5): KVM writes exit details
	// here and reads immediate_exit and I/O results back.
	run []byte
	// exit is reused by every Run so that the exit path does not allocate.
	exit Exit
}

// ID is the VCPU's index (also its APIC ID in govmm).
func (v *VCPU) ID() int { return v.id }

// Close unmaps kvm_run and closes the VCPU fd.
func (v *VCPU) Close() error {
	err := unix.Munmap(v.run)
	if e := unix.Close(v.fd); err == nil {
		err = e
	}
	return err
}

// Run enters the guest until the next exit and returns that exit decoded.
// The returned Exit is owned by the VCPU and valid until the next Run. A
// signal or immediate_exit makes Run return an Exit with Reason ExitIntr and
// no error. Any other ioctl failure is returned as an error.
func (v *VCPU) Run() (*Exit, error) {
	_, err := ioctlVal(v.fd, ioctlRun, 0)
	return v.decode(err)
}

// RunHot is Run without telling Go's scheduler that the thread enters a
// system call (a raw syscall): the goroutine keeps its P while the guest
// runs, and saves the runtime's entersyscall and exitsyscall, whose cost
// is a measurable share of a port I/O exit (about 5 us of 52 on the
// nested test host). Use it only when the guest is expected to exit again
// soon, as it does in a run of port or MMIO accesses: a guest that stays
// in KVM_RUN holds the P until Go's sysmon preempts the goroutine after
// 10 ms with a signal, which ends RunHot with ExitIntr.
func (v *VCPU) RunHot() (*Exit, error) {
	var err error
	if e := rawIoctl(uintptr(v.fd), ioctlRun); e != 0 {
		err = unix.Errno(e)
	}
	return v.decode(err)
}

// decode turns KVM_RUN's result into the exit.
func (v *VCPU) decode(err error) (*Exit, error) {
	if err == unix.EINTR || err == unix.EAGAIN {
		v.exit = Exit{Reason: ExitIntr}
		return &v.exit, nil
	}
	if err != nil {
		return nil, fmt.Errorf("KVM_RUN on VCPU %d: %w", v.id, err)
	}
	if err := decodeExit(v.run, &v.exit); err != nil {
		return nil, fmt.Errorf("VCPU %d: %w", v.id, err)
	}
	return &v.exit, nil
}

// SetImmediateExit sets kvm_run.immediate_exit (KVM_CAP_IMMEDIATE_EXIT): while
// it is 1, KVM_RUN returns EINTR at once. Together with a signal to the VCPU
// thread this stops a VCPU without a race against entering the guest.
func (v *VCPU) SetImmediateExit(on bool) {
	if on {
		v.run[runImmediateExit] = 1
	} else {
		v.run[runImmediateExit] = 0
	}
}

// Regs returns the general-purpose registers.
func (v *VCPU) Regs() (Regs, error) {
	var r Regs
	if _, err := ioctlPtr(v.fd, ioctlGetRegs, &r); err != nil {
		return r, fmt.Errorf("KVM_GET_REGS: %w", err)
	}
	return r, nil
}

// SetRegs sets the general-purpose registers.
func (v *VCPU) SetRegs(r Regs) error {
	if _, err := ioctlPtr(v.fd, ioctlSetRegs, &r); err != nil {
		return fmt.Errorf("KVM_SET_REGS: %w", err)
	}
	return nil
}

// Sregs returns the special registers.
func (v *VCPU) Sregs() (Sregs, error) {
	var s Sregs
	if _, err := ioctlPtr(v.fd, ioctlGetSregs, &s); err != nil {
		return s, fmt.Errorf("KVM_GET_SREGS: %w", err)
	}
	return s, nil
}

// SetSregs sets the special registers.
func (v *VCPU) SetSregs(s Sregs) error {
	if _, err := ioctlPtr(v.fd, ioctlSetSregs, &s); err != nil {
		return fmt.Errorf("KVM_SET_SREGS: %w", err)
	}
	return nil
}

// SetCPUID sets the CPUID leaves the guest sees (KVM_SET_CPUID2).
func (v *VCPU) SetCPUID(entries []CPUIDEntry) error {
	if len(entries) > maxCPUIDEntries {
		return fmt.Errorf("KVM_SET_CPUID2: %d entries, at most %d", len(entries), maxCPUIDEntries)
	}
	c := &cpuid2{Nent: uint32(len(entries))}
	copy(c.Entries[:], entries)
	if _, err := ioctlPtr(v.fd, ioctlSetCPUID2, c); err != nil {
		return fmt.Errorf("KVM_SET_CPUID2: %w", err)
	}
	return nil
}

// VCPUEvents returns pending exceptions, interrupts and NMIs.
func (v *VCPU) VCPUEvents() (VCPUEvents, error) {
	var e VCPUEvents
	if _, err := ioctlPtr(v.fd, ioctlGetVCPUEvents, &e); err != nil {
		return e, fmt.Errorf("KVM_GET_VCPU_EVENTS: %w", err)
	}
	return e, nil
}

// SetVCPUEvents sets pending exceptions, interrupts and NMIs.
func (v *VCPU) SetVCPUEvents(e VCPUEvents) error {
	if _, err := ioctlPtr(v.fd, ioctlSetVCPUEvents, &e); err != nil {
		return fmt.Errorf("KVM_SET_VCPU_EVENTS: %w", err)
	}
	return nil
}

// InjectException makes the VCPU take exception vector nr (without an error
// code) on its next entry, as if the instruction before RIP raised it.
func (v *VCPU) InjectException(nr uint8) error {
	e, err := v.VCPUEvents()
	if err != nil {
		return err
	}
	e.Exception.Injected = 1
	e.Exception.Nr = nr
	e.Exception.HasErrorCode = 0
	e.Exception.Pending = 0
	e.Flags = 0
	return v.SetVCPUEvents(e)
}

// FPU returns the x87/SSE state.
func (v *VCPU) FPU() (FPU, error) {
	var f FPU
	if _, err := ioctlPtr(v.fd, ioctlGetFPU, &f); err != nil {
		return f, fmt.Errorf("KVM_GET_FPU: %w", err)
	}
	return f, nil
}

// SetFPU sets the x87/SSE state.
func (v *VCPU) SetFPU(f FPU) error {
	if _, err := ioctlPtr(v.fd, ioctlSetFPU, &f); err != nil {
		return fmt.Errorf("KVM_SET_FPU: %w", err)
	}
	return nil
}

// Translate translates a guest-virtual address through the VCPU's current
// page tables (KVM_TRANSLATE).
func (v *VCPU) Translate(linear uint64) (Translation, error) {
	t := Translation{LinearAddress: linear}
	if _, err := ioctlPtr(v.fd, ioctlTranslate, &t); err != nil {
		return t, fmt.Errorf("KVM_TRANSLATE(%#x): %w", linear, err)
	}
	return t, nil
}

// MP states (struct kvm_mp_state).
const (
	MPStateRunnable      = 0
	MPStateUninitialized = 1
	MPStateInitReceived  = 2
	MPStateHalted        = 3
	MPStateSIPIReceived  = 4
)

// MPState returns the VCPU's multiprocessing state (KVM_GET_MP_STATE); with
// the in-kernel irqchip, a VCPU in HLT reports MPStateHalted.
func (v *VCPU) MPState() (uint32, error) {
	var s uint32
	if _, err := ioctlPtr(v.fd, ioctlGetMPState, &s); err != nil {
		return 0, fmt.Errorf("KVM_GET_MP_STATE: %w", err)
	}
	return s, nil
}

// SetMPState sets the multiprocessing state (KVM_SET_MP_STATE).
func (v *VCPU) SetMPState(s uint32) error {
	if _, err := ioctlPtr(v.fd, ioctlSetMPState, &s); err != nil {
		return fmt.Errorf("KVM_SET_MP_STATE: %w", err)
	}
	return nil
}
