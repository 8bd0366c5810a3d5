// Package machine assembles a virtual machine from KVM, guest memory, buses
// and devices, loads a guest into it and runs its VCPUs.
//
// Data flows one way: a VCPU exit reaches the VCPU loop (vcpu.go), the loop
// asks a Bus for the device at the address, and the device sees only an
// offset and bytes. Devices raise interrupts through small interfaces backed
// by the in-kernel irqchip; they never import this package.
package machine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govmm/govmm/devices/bus"
	"github.com/govmm/govmm/devices/i8042"
	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/rtc"
	"github.com/govmm/govmm/devices/serial"
	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/memory"
)

// Machine is one VM with its devices, ready to run once.
type Machine struct {
	cfg Config
	sys *kvm.System
	vm  *kvm.VM
	// ram holds the host mappings behind mem, to unmap on Close.
	ram [][]byte
	mem *memory.Memory

	pio, mmio *Bus
	// devs is the device manager (devices.go): PCI bus 0, whose BAR
	// window is one range on mmio, the interrupt lines, the ioeventfds,
	// and the devices Close releases.
	devs *deviceManager
	// VirtioConsole is the virtio console when Config.VirtioConsole is
	// set; the command feeds it host input instead of the UART.
	VirtioConsole *virtio.Console
	// UART is COM1; the command feeds it host input.
	UART *serial.UART
	// console is the UART's output: Config.Console, written a line at a
	// time instead of a byte at a time (console_batch.go).
	console *consoleBatch
	// nets are the network devices, for -stats.
	nets []netDev

	vcpus []*vcpu
	// coalesce applies the port writes KVM coalesced (coalesce.go); nil
	// when this KVM cannot coalesce port I/O.
	coalesce *coalescer
	// compat is true when the emulated-ring-0 fix-ups are on.
	compat bool

	// stopping is set once the run is over; VCPU loops then return.
	stopping atomic.Bool
	// resultOnce guards result: the first outcome wins.
	resultOnce sync.Once
	result     Result
	done       chan struct{}
}

// New checks cfg and its files (Config.Plan), then builds the VM and loads
// its guest (NewFromPlan). Every problem with cfg or its files is
// reported before KVM is opened. On error nothing is left behind: every
// resource New acquired is released.
func New(cfg Config) (*Machine, error) {
	p, err := cfg.Plan()
	if err != nil {
		return nil, err
	}
	return NewFromPlan(p)
}

// NewFromPlan opens KVM, builds the VM that p describes and loads its guest.
// The errors left at this point come from KVM and the host (no /dev/kvm, a
// missing capability, memory that cannot be mapped), and from a kernel or
// initrd file that changed since Plan or can no longer be read (Plan says
// which bytes are read from the files here). On error nothing is left
// behind: every resource NewFromPlan acquired is released.
func NewFromPlan(p *Plan) (*Machine, error) {
	if p == nil {
		return nil, errors.New("machine: NewFromPlan needs a Plan from Config.Plan")
	}
	m := &Machine{cfg: p.cfg, compat: p.compat, done: make(chan struct{})}
	for _, n := range p.notes {
		m.logf("%s", n)
	}
	load := func() error { return m.load(p) }
	for _, step := range []func() error{m.createVM, m.createMemory, m.createDevices, m.createVCPUs, m.createCoalescing, load} {
		if err := step(); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

func (m *Machine) logf(format string, args ...any) {
	if m.cfg.Log != nil {
		fmt.Fprintf(m.cfg.Log, "govmm: "+format+"\n", args...)
	}
}

func (m *Machine) createVM() error {
	sys, err := kvm.Open(m.cfg.KVMPath)
	if err != nil {
		return err
	}
	m.sys = sys
	for _, c := range []kvm.Cap{kvm.CapIRQChip, kvm.CapUserMemory, kvm.CapPIT2, kvm.CapImmediateExit, kvm.CapIOEventFD, kvm.CapSetTSSAddr} {
		if n, err := sys.CheckExtension(c); err != nil || n == 0 {
			return fmt.Errorf("%s: this KVM lacks %v, which govmm needs", m.cfg.KVMPath, c)
		}
	}
	if m.vm, err = sys.CreateVM(); err != nil {
		return err
	}
	if err := m.vm.SetTSSAddr(tssRegionAddr); err != nil {
		return err
	}
	if err := m.vm.SetIdentityMapAddr(identityMapAddr); err != nil {
		return err
	}
	if err := m.vm.CreateIRQChip(); err != nil {
		return err
	}
	if err := m.vm.CreatePIT2(); err != nil {
		return err
	}
	if m.compat {
		// Under emulation the guest misses PIT ticks; reinjected in a
		// burst they make Linux's local APIC timer verification fail
		// ("APIC timer disabled due to verification failure"), which
		// leaves an SMP guest without per-CPU timers.
		if err := m.vm.SetPITReinject(false); err != nil {
			return err
		}
	}
	return nil
}

// createMemory maps RAM: low RAM from 0 up to lowRAMLimit, the rest from
// highRAMBase (layout.go).
func (m *Machine) createMemory() error {
	low := min(m.cfg.MemSize, lowRAMLimit)
	var regions []memory.Region
	for i, r := range []struct{ start, size uint64 }{
		{0, low},
		{highRAMBase, m.cfg.MemSize - low},
	} {
		if r.size == 0 {
			continue
		}
		b, err := memory.MapAnonymous(r.size)
		if err != nil {
			return fmt.Errorf("-m %d MiB: %w", m.cfg.MemSize>>20, err)
		}
		m.ram = append(m.ram, b)
		if err := m.vm.SetUserMemoryRegion(uint32(i), r.start, b); err != nil {
			return err
		}
		regions = append(regions, memory.Region{Start: memory.GuestAddress(r.start), Data: b})
	}
	mem, err := memory.New(regions...)
	if err != nil {
		return err
	}
	m.mem = mem
	return nil
}

func (m *Machine) createDevices() error {
	m.pio = NewBus("pio")
	m.mmio = NewBus("mmio")
	m.devs = newDeviceManager(m.vm, pci.NewBus(pciMMIOBase, pciMMIOSize), m.logf)
	unknown := func(bus string) func(bool, uint64, int) {
		return func(write bool, addr uint64, n int) {
			op := map[bool]string{true: "write to", false: "read from"}[write]
			m.logf("%s %s unknown %s address %#x (%d bytes)", "guest", op, bus, addr, n)
		}
	}
	m.pio.unknownLog, m.mmio.unknownLog = unknown("port"), unknown("MMIO")

	m.console = newConsoleBatch(m.cfg.Console)
	m.UART = serial.New(m.console, m.devs.fixedIRQ("com1", com1IRQ))
	if err := m.pio.Register("com1", com1Port, 8, m.UART); err != nil {
		return err
	}
	kbd := i8042.New(func() { m.finish(Result{Code: ExitOK, Reason: "guest reset (i8042 command 0xfe)", Reset: true}) },
		m.devs.fixedIRQ("i8042", i8042KbdIRQ))
	if err := m.pio.Register("i8042-data", i8042Data, 1, kbd.DataPort()); err != nil {
		return err
	}
	if err := m.pio.Register("i8042-cmd", i8042Cmd, 1, kbd.CommandPort()); err != nil {
		return err
	}
	clock := rtc.New(time.Now, m.devs.fixedIRQ("rtc", rtcIRQ))
	m.devs.own("rtc", clock)
	if err := m.pio.Register("rtc", cmosIndex, cmosData-cmosIndex+1, clock); err != nil {
		return err
	}
	if err := m.createAbsent(); err != nil {
		return err
	}
	if err := m.createPCI(); err != nil {
		return err
	}
	if err := m.createACPIPM(); err != nil {
		return err
	}
	return m.createVirtio()
}

// Memory is the guest's RAM, for tests and tools.
func (m *Machine) Memory() *memory.Memory { return m.mem }

// finish records the run's outcome (the first one wins) and stops every VCPU.
func (m *Machine) finish(r Result) {
	m.resultOnce.Do(func() {
		m.result = r
		m.stopping.Store(true)
		for _, v := range m.vcpus {
			v.stop()
		}
		close(m.done)
	})
}

// Run runs the guest until it resets, powers off, crashes, or ctx ends. A
// ctx deadline gives ExitTimeout; a cancelled ctx gives ExitInterrupt.
func (m *Machine) Run(ctx context.Context) Result {
	if rawRunAllowed {
		defer reserveProcs(len(m.vcpus))()
	}
	if m.cfg.BeforeRun != nil {
		if err := m.cfg.BeforeRun(); err != nil {
			m.finish(Result{Code: ExitError, Reason: err.Error()})
			return m.result
		}
	}
	var wg sync.WaitGroup
	for _, v := range m.vcpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.loop()
		}()
	}
	stopSampler := m.startSampler()
	stopDrainer := m.coalesce.start()
	select {
	case <-m.done:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			m.finish(Result{Code: ExitTimeout, Reason: "timeout: the guest was still running"})
		} else {
			m.finish(Result{Code: ExitInterrupt, Reason: "interrupted"})
		}
	}
	stopSampler()
	wg.Wait()
	stopDrainer()     // and apply the last coalesced writes
	m.console.flush() // the console's last partial line
	return m.result
}

// Close releases everything the machine holds. It is safe after a failed New
// and safe to call twice.
func (m *Machine) Close() error {
	var errs []error
	if m.devs != nil {
		errs = append(errs, m.devs.close())
	}
	for _, v := range m.vcpus {
		errs = append(errs, v.cpu.Close())
	}
	m.vcpus = nil
	if m.vm != nil {
		errs = append(errs, m.vm.Close())
		m.vm = nil
	}
	for _, b := range m.ram {
		errs = append(errs, memory.Unmap(b))
	}
	m.ram = nil
	if m.sys != nil {
		errs = append(errs, m.sys.Close())
		m.sys = nil
	}
	return errors.Join(errs...)
}

// RegisterPIO adds a device on the port I/O bus. Call it before Run; tests
// and benchmarks use it to attach their own devices.
func (m *Machine) RegisterPIO(name string, base, size uint64, dev bus.Device) error {
	return m.pio.Register(name, base, size, dev)
}
