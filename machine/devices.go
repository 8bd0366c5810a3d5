package machine

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"text/tabwriter"

	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/mptable"
)

// The device manager owns what every device needs from the machine besides
// a bus range: its interrupt, its PCI slot, its KVM ioeventfds and its
// shutdown. Adding a PCI device is one call (addPCI), which takes the slot
// and the INTx pin from what is really free, binds the ioeventfds, and
// records the route that the MP table and the DSDT's _PRT both describe
// (intxRoutes: the two tables are built from the same list).
//
// Interrupts. PCI INTx lines go to I/O APIC pins pciINTxBase..23, which are
// level-triggered and may be shared: a pin's level is the OR of the lines of
// the devices on it (irqLine). KVM cannot do that OR for us: every
// KVM_IRQ_LINE from user space is the same interrupt source to KVM, so one
// device lowering the pin would clear another's interrupt. The driver of a
// device on a shared pin then finds out whether the interrupt is its own
// from the device's ISR (virtio 1.2 §4.1.4.5), which reads and clears it.
// MSI-X needs no pin: each device signals its own table's messages.

// INTx pins: pins 0-15 of the I/O APIC carry the edge-triggered ISA IRQs,
// pins 16-23 the level-triggered PCI INTx lines (KVM's I/O APIC has 24).
const (
	pciINTxBase = 16
	pciINTxPins = mptable.IOAPICPins - pciINTxBase
)

// Lifecycle is what the device manager asks of every device it owns. Today
// that is Close: called once when the machine is torn down, after the VCPUs
// have stopped and after the device's ioeventfds were unbound, in the
// reverse order of registration (a device may rely on those registered
// before it).
//
// Later needs belong in optional interfaces beside this one, which the
// manager would find by type assertion, so that a device implements only
// what it has, for example:
//
//   - an event source, for a device that waits on host file descriptors (a
//     tap device, a socket): the descriptors and a handler, so that one
//     event loop polls them instead of a goroutine per device;
//   - save and restore: the device's state as bytes, asked of every device
//     in registration order, and the reverse.
//
// None of these exists yet; add one with its first user.
type Lifecycle interface {
	Close() error
}

// vmOps is what the device manager needs from the VM: the irqchip's input
// lines, MSI delivery and ioeventfd bindings. *kvm.VM has them; tests use a
// fake.
type vmOps interface {
	IRQLine(gsi uint32, high bool) error
	SignalMSI(addr uint64, data uint32) error
	IOEventFD(e kvm.IOEvent, deassign bool) error
}

// notifier is a device whose doorbells KVM can complete in the kernel:
// Ioeventfds returns the bindings at the device's current BAR addresses.
type notifier interface {
	Ioeventfds() []virtio.IoEventFd
}

// deviceManager holds the machine's devices. Devices are added while the
// machine is built, before any VCPU runs; after that only the ioeventfd
// bindings change (a BAR move) and interrupt levels change.
type deviceManager struct {
	vm   vmOps
	pci  *pci.Bus
	logf func(format string, args ...any)

	// lines are the irqchip inputs handed out, by GSI.
	lines map[uint32]*irqLine
	// pciDevs are the devices addPCI added, in the order it added them
	// (which is slot order: slots are taken lowest first).
	pciDevs []*pciDevice
	// owned are the devices close releases, in registration order.
	owned []ownedDevice
	// ioeventfdMu guards every pciDevice.bound (BAR moves re-bind them).
	ioeventfdMu sync.Mutex
}

// ownedDevice is a device registered for shutdown.
type ownedDevice struct {
	name string
	dev  Lifecycle
}

// pciDevice is one device on PCI bus 0.
type pciDevice struct {
	name string
	dev  pci.Device
	slot uint8
	// intx is the device's INTA# input to its pin; nil without INTx.
	intx *irqSource
	// bound are the ioeventfds registered with KVM; guarded by the
	// manager's ioeventfdMu.
	bound []kvm.IOEvent
}

// intxRoute is one PCI INTx route: slot's pin (INTA = 0) to I/O APIC pin gsi.
type intxRoute struct {
	slot, pin uint8
	gsi       uint32
}

// newDeviceManager returns a manager for a VM and its PCI bus 0. It follows
// the guest's BAR moves (bus.OnBARMove) to keep ioeventfds bound.
func newDeviceManager(vm vmOps, bus *pci.Bus, logf func(string, ...any)) *deviceManager {
	d := &deviceManager{vm: vm, pci: bus, logf: logf, lines: map[uint32]*irqLine{}}
	bus.OnBARMove = d.rebind
	bus.OnDecodeChange = func() { d.rebindAll("a device's memory decoding changed") }
	return d
}

// line returns the irqchip input gsi, creating it on first use.
func (d *deviceManager) line(gsi uint32) *irqLine {
	l := d.lines[gsi]
	if l == nil {
		l = &irqLine{vm: d.vm, gsi: gsi}
		d.lines[gsi] = l
	}
	return l
}

// fixedIRQ returns name's input to the irqchip line gsi, for a device wired
// to a fixed line (the ISA devices).
func (d *deviceManager) fixedIRQ(name string, gsi uint32) *irqSource {
	return d.line(gsi).attach(name)
}

// intxPin picks the PCI INTx pin with the fewest devices on it (the lowest
// of those): with devices only ever added, pins are taken round-robin.
func (d *deviceManager) intxPin() uint32 {
	best := uint32(pciINTxBase)
	for g := uint32(pciINTxBase); g < pciINTxBase+pciINTxPins; g++ {
		if d.line(g).numSources() < d.line(best).numSources() {
			best = g
		}
	}
	return best
}

// own registers dev to be closed by close.
func (d *deviceManager) own(name string, dev Lifecycle) {
	d.owned = append(d.owned, ownedDevice{name, dev})
}

// addPCI puts a device on PCI bus 0 in the lowest free slot. With intx, the
// device gets an INTA# line on the least-used INTx pin, which build receives
// (irq is nil without intx) and the device's configuration header must
// declare (interrupt pin 1). The device is registered for shutdown when it
// is a Lifecycle, and its ioeventfds are bound when it is a notifier.
//
// If build fails, or the device declares another interrupt pin, addPCI
// leaves the device to the caller (it may hold resources only the caller
// knows). If the bus has no room, it closes the device. Once the device is
// on the bus it belongs to the manager, even when an error follows.
func (d *deviceManager) addPCI(name string, intx bool, build func(irq pci.IRQLine) (pci.Device, error)) (*pciDevice, error) {
	var src *irqSource
	var irq pci.IRQLine
	if intx {
		src = d.line(d.intxPin()).attach(name)
		irq = src
	}
	dev, err := build(irq)
	if err == nil {
		// The interrupt pin register (0x3D) is the high byte at 0x3C.
		if pin := dev.PCIConfig().Uint16(pci.RegInterruptLine) >> 8; (pin != 0) != intx {
			err = fmt.Errorf("the device's interrupt pin is %d, but it was added with INTx %v", pin, intx)
		}
	}
	if err != nil {
		src.detach()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	slot, err := d.pci.Add(dev)
	if err != nil {
		src.detach()
		if c, ok := dev.(Lifecycle); ok {
			c.Close()
		}
		if errors.Is(err, pci.ErrBusFull) {
			return nil, fmt.Errorf("%s: no free PCI slot: all %d slots of bus 0 are taken", name, pci.NumSlots)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &pciDevice{name: name, dev: dev, slot: uint8(slot.Number()), intx: src}
	d.pciDevs = append(d.pciDevs, p)
	if c, ok := dev.(Lifecycle); ok {
		d.own(name, c)
	}
	what := "no INTx"
	if src != nil {
		// As firmware would: Linux reads the line when it finds no
		// routing table, and lspci shows it.
		slot.SetInterruptLine(uint8(src.line.gsi))
		what = fmt.Sprintf("INTx GSI %d", src.line.gsi)
	}
	d.ioeventfdMu.Lock()
	err = d.bindLocked(p)
	d.ioeventfdMu.Unlock()
	if err != nil {
		return nil, err
	}
	d.logf("%s: PCI 00:%02x.0, %s, %d ioeventfds", name, p.slot, what, len(p.bound))
	return p, nil
}

// bindLocked registers p's doorbells with KVM.
func (d *deviceManager) bindLocked(p *pciDevice) error {
	n, ok := p.dev.(notifier)
	if !ok || !p.dev.PCIConfig().DecodesMemory() {
		// A function that does not decode memory must not answer at its
		// doorbells (PCI 3.0 §6.2.2): no ioeventfds until it does.
		return nil
	}
	for _, f := range n.Ioeventfds() {
		e := kvm.IOEvent{Addr: f.Addr, Len: f.Len, FD: f.FD}
		if err := d.vm.IOEventFD(e, false); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		p.bound = append(p.bound, e)
	}
	return nil
}

// unbindLocked removes p's ioeventfds; the guest's doorbell writes then
// reach the device through the MMIO bus, which signals the same eventfds.
func (d *deviceManager) unbindLocked(p *pciDevice) {
	for _, e := range p.bound {
		d.vm.IOEventFD(e, true)
	}
	p.bound = nil
}

// rebind follows a BAR the guest moved: KVM's bindings are by address.
func (d *deviceManager) rebind(oldAddr, newAddr, size uint64) {
	d.rebindAll(fmt.Sprintf("PCI BAR moved from %#x to %#x (%#x bytes)", oldAddr, newAddr, size))
}

// rebindAll binds every device's ioeventfds afresh (see bindLocked).
func (d *deviceManager) rebindAll(why string) {
	d.logf("%s: re-binding ioeventfds", why)
	d.ioeventfdMu.Lock()
	defer d.ioeventfdMu.Unlock()
	// Unbind every device before binding any: when the guest stacks two
	// BARs, a device bound first could otherwise take the address the
	// other still holds (EEXIST), and which one lost its doorbells would
	// depend on the order.
	for _, p := range d.pciDevs {
		d.unbindLocked(p)
	}
	for _, p := range d.pciDevs {
		if err := d.bindLocked(p); err != nil {
			d.logf("%v", err)
		}
	}
}

// intxRoutes lists the INTx routes of the devices on the bus, by slot: what
// the MP table (writeMPTable) and the DSDT's _PRT (writeACPITables) say.
func (d *deviceManager) intxRoutes() []intxRoute {
	var r []intxRoute
	for _, p := range d.pciDevs {
		if p.intx != nil {
			r = append(r, intxRoute{slot: p.slot, pin: 0, gsi: p.intx.line.gsi})
		}
	}
	sort.Slice(r, func(i, j int) bool { return r[i].slot < r[j].slot })
	return r
}

// close unbinds every ioeventfd, then closes the owned devices, last
// registered first. It is safe to call twice.
func (d *deviceManager) close() error {
	d.ioeventfdMu.Lock()
	for _, p := range d.pciDevs {
		d.unbindLocked(p)
	}
	d.ioeventfdMu.Unlock()
	var errs []error
	for i := len(d.owned) - 1; i >= 0; i-- {
		if err := d.owned[i].dev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.owned[i].name, err))
		}
	}
	d.owned = nil
	return errors.Join(errs...)
}

// writeStats prints, for -stats, the buffers each virtio device served and
// the KVM_IRQ_LINE calls that failed. A nil manager prints nothing.
func (d *deviceManager) writeStats(w io.Writer) {
	if d == nil {
		return
	}
	type served interface{ Served() uint64 }
	var tw *tabwriter.Writer
	for _, p := range d.pciDevs {
		s, ok := p.dev.(served)
		if !ok {
			continue
		}
		if tw == nil {
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "virtio device\tbuffers served\t")
		}
		fmt.Fprintf(tw, "%s\t%d\t\n", p.name, s.Served())
	}
	if tw != nil {
		tw.Flush()
	}
	gsis := make([]uint32, 0, len(d.lines))
	for g := range d.lines {
		gsis = append(gsis, g)
	}
	sort.Slice(gsis, func(i, j int) bool { return gsis[i] < gsis[j] })
	for _, g := range gsis {
		if n := d.lines[g].errs.Load(); n > 0 {
			fmt.Fprintf(w, "\nKVM_IRQ_LINE failed %d times for GSI %d\n", n, g)
		}
	}
}

// irqLine is one input of the in-kernel irqchip, driven with KVM_IRQ_LINE,
// with any number of sources: its level is the OR of theirs. It is raised
// when the first source asserts and lowered only when the last one
// deasserts, so sources never clear each other's interrupt. The ISA lines
// have one source each; the PCI INTx pins are shared.
type irqLine struct {
	vm  vmOps
	gsi uint32
	// mu guards sources, high and every source's level, and is held
	// across the ioctl, so that the irqchip sees the levels in the order
	// they were computed.
	mu sync.Mutex
	// sources counts the attached sources; high those asserting.
	sources, high int
	// errs counts failed ioctls: an interrupt cannot report an error.
	errs atomic.Uint64
}

// irqSource is one device's input to an irqLine. It implements the
// interrupt interfaces of packages pci, serial and rtc.
type irqSource struct {
	line *irqLine
	name string
	// high is the level this source drives; guarded by line.mu.
	high bool
}

// attach adds a source, initially low.
func (l *irqLine) attach(name string) *irqSource {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sources++
	return &irqSource{line: l, name: name}
}

// numSources is the number of attached sources.
func (l *irqLine) numSources() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sources
}

// asserted is the number of sources asserting the line.
func (l *irqLine) asserted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.high
}

func (l *irqLine) setLocked(high bool) {
	if l.vm.IRQLine(l.gsi, high) != nil {
		l.errs.Add(1)
	}
}

// SetLevel drives this source's input. The line follows the OR of all its
// sources' levels; repeating a level changes nothing.
func (s *irqSource) SetLevel(high bool) {
	l := s.line
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.high == high {
		return
	}
	s.high = high
	if high {
		if l.high++; l.high == 1 {
			l.setLocked(true)
		}
	} else if l.high--; l.high == 0 {
		l.setLocked(false)
	}
}

// detach removes a source that will not be used (its device was never
// added), lowering its input first. A nil source is ignored.
func (s *irqSource) detach() {
	if s == nil {
		return
	}
	s.SetLevel(false)
	s.line.mu.Lock()
	s.line.sources--
	s.line.mu.Unlock()
}
