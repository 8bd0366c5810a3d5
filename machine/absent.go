package machine

import (
	"fmt"

	"github.com/govmm/govmm/devices/bus"
	"github.com/govmm/govmm/kvm"
	"golang.org/x/sys/unix"
)

// absentRange is a range of legacy PC ports where govmm has no device but
// guests are known to look. The guest's view is unchanged: reads give
// all-ones and writes are dropped, as on any port without a device (and as
// on an ISA bus with nothing there). What changes is the cost of a write:
// KVM completes it in the kernel, with no exit to govmm (absorbWrites).
type absentRange struct {
	name       string
	base, size uint64
}

// absentPorts are the absent ports whose writes are absorbed. Reads there
// still exit (KVM cannot answer a port read in the kernel) and are served
// by the bus as before; they show up in -stats under these names.
var absentPorts = []absentRange{
	// The POST-code port. Linux writes it as its I/O delay (outb_p,
	// native_io_delay in arch/x86/kernel/io_delay.c, the default
	// CONFIG_IO_DELAY_0X80), unless the KVM paravirtual leaf offers
	// KVM_FEATURE_NOP_IO_DELAY (arch/x86/kernel/kvm.c, paravirt_ops_setup);
	// 0xED is the io_delay=0xed alternative.
	{"absent:post-code", 0x80, 1},
	{"absent:io-delay", 0xED, 1},
	// Super I/O index/data pairs. The 8250 driver's Fintek probe, built
	// into Debian's kernels (CONFIG_SERIAL_8250_FINTEK=y), tries four
	// enter keys at each of 0x4E and 0x2E for COM1: five writes and one
	// read per key (probe_setup_port, drivers/tty/serial/8250/8250_fintek.c).
	{"absent:superio-2e", 0x2E, 2},
	{"absent:superio-4e", 0x4E, 2},
	// COM2-COM4, which Linux's 8250 driver probes from SERIAL_PORT_DFNS
	// (arch/x86/include/asm/serial.h; autoconfig in 8250_port.c writes and
	// reads back IER three times per port and finds nothing).
	{"absent:com2", 0x2F8, 8},
	{"absent:com3", 0x3E8, 8},
	{"absent:com4", 0x2E8, 8},
}

// absentDevice answers like a port without a device: all-ones, writes
// dropped.
type absentDevice struct{}

func (absentDevice) Read(_ uint64, data []byte) { bus.FillOnes(data) }

func (absentDevice) Write(uint64, []byte) {}

// createAbsent registers absentPorts on the port bus (so that no device can
// be put there by mistake: an overlap is an error) and absorbs their writes.
func (m *Machine) createAbsent() error {
	for _, r := range absentPorts {
		if err := m.pio.Register(r.name, r.base, r.size, absentDevice{}); err != nil {
			return err
		}
	}
	return m.absorbWrites(absentPorts)
}

// absorbWrites binds every port of ranges to one eventfd that nobody reads
// (KVM_IOEVENTFD, any access width): KVM then completes a guest write
// there in the kernel, as it does for a virtio notify, and the write never
// reaches govmm. The eventfd's descriptor is closed at once: each binding
// holds its own reference to the eventfd (virt/kvm/eventfd.c,
// kvm_assign_ioeventfd), so it lives as long as the VM, and with no
// descriptor left nobody can ever read it. Its counter only counts the
// writes: eventfd_signal adds 1 and saturates at ULLONG_MAX rather than
// wrapping (fs/eventfd.c), which at one write per nanosecond takes 584
// years, and the write completes either way.
//
// No DATAMATCH: every value written to an absent port is equally
// meaningless, and a binding of length 0 (any width) cannot have one.
func (m *Machine) absorbWrites(ranges []absentRange) error {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd for absent ports: %w", err)
	}
	defer unix.Close(fd)
	n := 0
	for _, r := range ranges {
		for p := r.base; p < r.base+r.size; p++ {
			if err := m.vm.IOEventFD(kvm.IOEvent{Addr: p, FD: fd, PIO: true}, false); err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			n++
		}
	}
	m.logf("absent ports: writes to %d ports absorbed in KVM (KVM_IOEVENTFD)", n)
	return nil
}
