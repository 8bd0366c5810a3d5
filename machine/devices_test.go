package machine

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govmm/govmm/acpi"
	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/memory"
	"github.com/govmm/govmm/mptable"
)

// fakeVM stands in for *kvm.VM: it records the level of every irqchip
// input, every MSI and every ioeventfd binding.
type fakeVM struct {
	mu sync.Mutex
	// level is each GSI's level; raises and lowers count KVM_IRQ_LINE
	// calls with level 1 and 0.
	level          map[uint32]bool
	raises, lowers map[uint32]int
	// msis counts messages by data value.
	msis map[uint32]int
	// bound are the ioeventfds registered, by address.
	bound map[uint64]kvm.IOEvent
	// failIRQ makes IRQLine fail.
	failIRQ bool
	// wake is closed and replaced on every call.
	wake chan struct{}
}

func newFakeVM() *fakeVM {
	return &fakeVM{
		level: map[uint32]bool{}, raises: map[uint32]int{}, lowers: map[uint32]int{},
		msis: map[uint32]int{}, bound: map[uint64]kvm.IOEvent{}, wake: make(chan struct{}),
	}
}

func (f *fakeVM) changed() {
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fakeVM) IRQLine(gsi uint32, high bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failIRQ {
		return errors.New("fake KVM_IRQ_LINE failure")
	}
	f.level[gsi] = high
	if high {
		f.raises[gsi]++
	} else {
		f.lowers[gsi]++
	}
	f.changed()
	return nil
}

func (f *fakeVM) SignalMSI(addr uint64, data uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msis[data]++
	f.changed()
	return nil
}

func (f *fakeVM) IOEventFD(e kvm.IOEvent, deassign bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if deassign {
		if _, ok := f.bound[e.Addr]; !ok {
			return fmt.Errorf("fake KVM_IOEVENTFD: %#x is not bound", e.Addr)
		}
		delete(f.bound, e.Addr)
	} else {
		if _, ok := f.bound[e.Addr]; ok {
			return fmt.Errorf("fake KVM_IOEVENTFD: %#x is already bound", e.Addr)
		}
		f.bound[e.Addr] = e
	}
	return nil
}

// waitFor waits until cond, called with f.mu held, holds. cond must
// look only at f: f.mu is taken inside irqLine.mu.
func (f *fakeVM) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(virtiotest.Timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok, wake := cond(), f.wake
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// eventually polls cond, which must take no lock of f's, until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(virtiotest.Timeout); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fakeVM) levelOf(gsi uint32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.level[gsi]
}

// fakePCI is a PCI function with nothing but a configuration header.
type fakePCI struct {
	cfg    *pci.Config
	closed int
}

func newFakePCI(intPin uint8) *fakePCI {
	return &fakePCI{cfg: pci.NewConfig(pci.Header{VendorID: 0x1234, DeviceID: 0x11, InterruptPin: intPin})}
}

func (f *fakePCI) PCIConfig() *pci.Config { return f.cfg }
func (f *fakePCI) Close() error           { f.closed++; return nil }

func newTestManager(t *testing.T) (*deviceManager, *fakeVM) {
	t.Helper()
	vm := newFakeVM()
	d := newDeviceManager(vm, pci.NewBus(pciMMIOBase, pciMMIOSize), t.Logf)
	t.Cleanup(func() { d.close() })
	return d, vm
}

// addFake adds a fakePCI with or without INTx.
func addFake(d *deviceManager, name string, intx bool) (*pciDevice, *fakePCI, error) {
	var pin uint8
	if intx {
		pin = 1
	}
	f := newFakePCI(pin)
	p, err := d.addPCI(name, intx, func(pci.IRQLine) (pci.Device, error) { return f, nil })
	return p, f, err
}

// interruptLine reads a function's interrupt line register (0x3C).
func interruptLine(dev pci.Device) uint8 {
	return uint8(dev.PCIConfig().Uint16(pci.RegInterruptLine))
}

// TestDeviceManagerAllocates adds devices with and without INTx and checks
// that slots are taken in order, INTx pins round-robin over 16..23, the
// interrupt line register says the pin, and the routes the MP table and
// the DSDT are built from list exactly the devices with INTx.
func TestDeviceManagerAllocates(t *testing.T) {
	d, _ := newTestManager(t)
	p, _, err := addFake(d, "no-intx", false)
	if err != nil {
		t.Fatal(err)
	}
	if p.slot != 1 || p.intx != nil {
		t.Fatalf("device without INTx: slot %d, intx %v; want slot 1 (after the host bridge), none", p.slot, p.intx)
	}
	var want []intxRoute
	for i := range 20 {
		p, f, err := addFake(d, fmt.Sprint("dev", i), true)
		if err != nil {
			t.Fatal(err)
		}
		gsi := uint32(pciINTxBase + i%pciINTxPins)
		if p.slot != uint8(2+i) || p.intx == nil || p.intx.line.gsi != gsi {
			t.Fatalf("device %d: slot %d, intx %+v; want slot %d, GSI %d", i, p.slot, p.intx, 2+i, gsi)
		}
		if l := interruptLine(f); uint32(l) != gsi {
			t.Errorf("device %d: interrupt line register %d, want %d", i, l, gsi)
		}
		want = append(want, intxRoute{slot: uint8(2 + i), pin: 0, gsi: gsi})
	}
	got := d.intxRoutes()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("routes\n%v\nwant\n%v", got, want)
	}
	// Both tables accept the routes as they are handed to them.
	mc := mptable.Config{CPUs: 1, IOAPICAddr: ioapicAddr, LAPICAddr: lapicAddr, MaxSize: mptableMax, PCI: true}
	var ac []acpi.PCIIRQ
	for _, r := range got {
		mc.PCIIRQs = append(mc.PCIIRQs, mptable.PCIIRQ{Slot: r.slot, Pin: r.pin, IOAPICPin: uint8(r.gsi)})
		ac = append(ac, acpi.PCIIRQ{Slot: r.slot, Pin: r.pin, GSI: r.gsi})
	}
	if _, err := mptable.Build(mptableAddr, mc); err != nil {
		t.Errorf("MP table: %v", err)
	}
	c := Config{CPUs: 1}
	if _, err := acpi.Build(acpiAddr, c.acpiConfig(ac)); err != nil {
		t.Errorf("ACPI: %v", err)
	}
}

// TestDeviceManagerLeastUsedPin checks that a device that could not be
// added gives its pin back, so the next device takes the least-used pin.
func TestDeviceManagerLeastUsedPin(t *testing.T) {
	d, _ := newTestManager(t)
	for i := range 3 {
		if _, _, err := addFake(d, fmt.Sprint("dev", i), true); err != nil {
			t.Fatal(err)
		}
	}
	var offered *irqSource
	_, err := d.addPCI("broken", true, func(irq pci.IRQLine) (pci.Device, error) {
		offered = irq.(*irqSource)
		return nil, errors.New("no such device")
	})
	if err == nil || !strings.Contains(err.Error(), "broken: no such device") {
		t.Fatalf("error %v, want one naming the device and the cause", err)
	}
	if offered.line.gsi != pciINTxBase+3 {
		t.Fatalf("offered GSI %d, want %d", offered.line.gsi, pciINTxBase+3)
	}
	if n := offered.line.numSources(); n != 0 {
		t.Fatalf("GSI %d keeps %d sources after the failure", offered.line.gsi, n)
	}
	p, _, err := addFake(d, "next", true)
	if err != nil {
		t.Fatal(err)
	}
	if p.intx.line.gsi != pciINTxBase+3 || p.slot != 4 {
		t.Fatalf("next device: slot %d GSI %d, want slot 4 GSI %d", p.slot, p.intx.line.gsi, pciINTxBase+3)
	}
	// Devices whose header disagrees with the INTx they asked for.
	for _, intx := range []bool{false, true} {
		pin := uint8(1)
		if intx {
			pin = 0
		}
		f := newFakePCI(pin)
		if _, err := d.addPCI("liar", intx, func(pci.IRQLine) (pci.Device, error) { return f, nil }); err == nil {
			t.Errorf("a device with interrupt pin %d was added with INTx %v", pin, intx)
		}
	}
	if n := len(d.pciDevs); n != 4 {
		t.Errorf("%d devices on the bus, want 4", n)
	}
}

// TestDeviceManagerBusFull fills the bus and checks the error of one device
// too many: clear, the device closed, its interrupt given back.
func TestDeviceManagerBusFull(t *testing.T) {
	d, _ := newTestManager(t)
	for i := 1; i < pci.NumSlots; i++ {
		if _, _, err := addFake(d, fmt.Sprint("dev", i), true); err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
	}
	_, f, err := addFake(d, "one-too-many", true)
	if err == nil {
		t.Fatal("a 33rd function was added to bus 0")
	}
	if want := "one-too-many: no free PCI slot: all 32 slots of bus 0 are taken"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if f.closed != 1 {
		t.Errorf("the refused device was closed %d times, want 1", f.closed)
	}
	sources := 0
	for g := uint32(pciINTxBase); g < pciINTxBase+pciINTxPins; g++ {
		sources += d.line(g).numSources()
	}
	if sources != pci.NumSlots-1 {
		t.Errorf("%d INTx sources, want %d", sources, pci.NumSlots-1)
	}
	// close closes each device once.
	if err := d.close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.pciDevs {
		if c := p.dev.(*fakePCI).closed; c != 1 {
			t.Errorf("%s closed %d times", p.name, c)
		}
	}
}

// TestIRQLineIsTheORofItsSources drives two sources on one pin: the pin
// rises with the first, stays high while either is high, and falls with
// the last; repeated levels change nothing.
func TestIRQLineIsTheORofItsSources(t *testing.T) {
	vm := newFakeVM()
	l := &irqLine{vm: vm, gsi: 17}
	a, b := l.attach("a"), l.attach("b")
	step := func(s *irqSource, high bool, wantLevel bool, wantRaises, wantLowers int) {
		t.Helper()
		s.SetLevel(high)
		if vm.level[17] != wantLevel || vm.raises[17] != wantRaises || vm.lowers[17] != wantLowers {
			t.Fatalf("%s -> %v: pin %v after %d raises, %d lowers; want %v, %d, %d",
				s.name, high, vm.level[17], vm.raises[17], vm.lowers[17], wantLevel, wantRaises, wantLowers)
		}
	}
	step(a, true, true, 1, 0)
	step(b, true, true, 1, 0)
	step(a, true, true, 1, 0)
	step(a, false, true, 1, 0) // b still asserts it
	step(a, false, true, 1, 0)
	step(b, false, false, 1, 1)
	step(b, true, true, 2, 1)
	b.detach() // lowers it
	if vm.level[17] || l.numSources() != 1 || l.asserted() != 0 {
		t.Fatalf("after detach: pin %v, %d sources, %d asserted", vm.level[17], l.numSources(), l.asserted())
	}
	vm.failIRQ = true
	a.SetLevel(true)
	if n := l.errs.Load(); n != 1 {
		t.Fatalf("%d failures counted, want 1", n)
	}
}

// twelveVirtio builds a machine's PCI devices as createPCI and createVirtio
// do, on a fake VM: pvpanic, then 12 virtio-rng devices. It returns the
// machine and a fake guest driver for each virtio device.
func twelveVirtio(t *testing.T) (*Machine, *fakeVM, []*virtiotest.PCIDriver) {
	t.Helper()
	vm := newFakeVM()
	m := &Machine{mem: virtiotest.NewMemory(virtiotest.MemSize), pio: NewBus("pio"), mmio: NewBus("mmio")}
	m.devs = newDeviceManager(vm, pci.NewBus(pciMMIOBase, pciMMIOSize), t.Logf)
	t.Cleanup(func() {
		if err := m.devs.close(); err != nil {
			t.Error(err)
		}
		if len(vm.bound) != 0 {
			t.Errorf("%d ioeventfds still bound after close", len(vm.bound))
		}
	})
	if err := m.createPCI(); err != nil {
		t.Fatal(err)
	}
	var drivers []*virtiotest.PCIDriver
	for i := range 12 {
		if _, err := m.addVirtio(fmt.Sprint("virtio-rng ", i), virtio.NewRNG()); err != nil {
			t.Fatal(err)
		}
		p := m.devs.pciDevs[len(m.devs.pciDevs)-1]
		if p.slot != uint8(2+i) || p.intx.line.gsi != uint32(pciINTxBase+i%pciINTxPins) {
			t.Fatalf("device %d: slot %d GSI %d", i, p.slot, p.intx.line.gsi)
		}
		d, err := virtiotest.NewPCIDriver(m.devs.pci, int(p.slot))
		if err != nil {
			t.Fatal(err)
		}
		drivers = append(drivers, d)
	}
	if len(vm.bound) != 12 {
		t.Fatalf("%d ioeventfds bound, want 12 (one queue each)", len(vm.bound))
	}
	return m, vm, drivers
}

// rngQueue is one driver's queue with a buffer to fill.
type rngQueue struct {
	q   *virtiotest.SplitQueue
	buf memory.GuestAddress
}

// startRNGs initializes each device with one queue.
func startRNGs(t *testing.T, m *Machine, drivers []*virtiotest.PCIDriver, msix bool) []rngQueue {
	t.Helper()
	alloc := virtiotest.NewAllocator(0x1000, virtiotest.MemSize)
	var qs []rngQueue
	for i, d := range drivers {
		q, err := virtiotest.NewSplitQueue(m.mem, alloc.Alloc(virtiotest.Footprint(8), 4096), 8)
		if err != nil {
			t.Fatal(err)
		}
		o := virtiotest.InitOptions{Features: 1 << 32, Queues: []*virtiotest.SplitQueue{q}}
		if msix {
			o.MSIX, o.MSIXData = true, uint32(100*(i+1))
		}
		if err := d.Init(o); err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		qs = append(qs, rngQueue{q: q, buf: alloc.Alloc(64, 16)})
	}
	return qs
}

// request adds a buffer to device i's queue and kicks it.
func request(t *testing.T, d *virtiotest.PCIDriver, rq rngQueue) {
	t.Helper()
	if _, err := rq.q.AddChain(virtiotest.Buffer{Addr: rq.buf, Len: 64, Write: true}); err != nil {
		t.Fatal(err)
	}
	d.Kick(0)
}

// used checks, once the device's interrupt was seen, that the device
// returned the buffer filled.
func used(t *testing.T, rq rngQueue) {
	t.Helper()
	u, ok, err := rq.q.PopUsed()
	if err != nil || !ok || u.Len != 64 {
		t.Fatalf("used element %+v, %v, %v; want the 64-byte buffer", u, ok, err)
	}
}

// TestTwelveVirtioDevicesINTx: with 12 devices on 8 pins, each device's
// interrupt raises only its own pin and only its own ISR, and a pin two
// devices share stays asserted until both drivers have read their ISR.
func TestTwelveVirtioDevicesINTx(t *testing.T) {
	m, vm, drivers := twelveVirtio(t)
	qs := startRNGs(t, m, drivers, false)
	gsi := func(i int) uint32 { return uint32(pciINTxBase + i%pciINTxPins) }

	for i, d := range drivers {
		request(t, d, qs[i])
		vm.waitFor(t, fmt.Sprintf("device %d's pin", i), func() bool { return vm.level[gsi(i)] })
		used(t, qs[i])
		for g := uint32(0); g < 24; g++ {
			if g != gsi(i) && vm.levelOf(g) {
				t.Fatalf("device %d: GSI %d is high too", i, g)
			}
		}
		// Every driver on every pin checks its ISR, as Linux's
		// vp_interrupt does: only device i's says it was its interrupt.
		for j, dj := range drivers {
			want := uint8(0)
			if j == i {
				want = 1 // the queue interrupt bit (virtio 1.2 §4.1.4.5)
			}
			if got := dj.ReadISR(); got != want {
				t.Fatalf("device %d interrupted: device %d ISR %#x, want %#x", i, j, got, want)
			}
		}
		if vm.levelOf(gsi(i)) {
			t.Fatalf("device %d: GSI %d still high after its ISR was read", i, gsi(i))
		}
	}

	// Devices 0 and 8 share GSI 16 (slots 2 and 10).
	a, b := 0, 8
	if gsi(a) != gsi(b) {
		t.Fatal("test set-up: devices do not share a pin")
	}
	g := gsi(a)
	line := m.devs.line(g)
	request(t, drivers[a], qs[a])
	vm.waitFor(t, "the shared pin", func() bool { return vm.level[g] })
	used(t, qs[a])
	if isr := drivers[b].ReadISR(); isr != 0 {
		t.Fatalf("device %d ISR %#x for device %d's interrupt", b, isr, a)
	}
	request(t, drivers[b], qs[b])
	eventually(t, "both devices asserting", func() bool { return line.asserted() == 2 })
	used(t, qs[b])
	vm.mu.Lock()
	lowers := vm.lowers[g]
	vm.mu.Unlock()
	if isr := drivers[a].ReadISR(); isr != 1 {
		t.Fatalf("device %d ISR %#x, want 1", a, isr)
	}
	vm.mu.Lock()
	high, lowered := vm.level[g], vm.lowers[g] != lowers
	vm.mu.Unlock()
	if !high || lowered {
		t.Fatalf("device %d's ISR read lowered GSI %d while device %d still asserts it", a, g, b)
	}
	if isr := drivers[a].ReadISR(); isr != 0 {
		t.Fatalf("device %d ISR %#x on a second read, want 0", a, isr)
	}
	if isr := drivers[b].ReadISR(); isr != 1 {
		t.Fatalf("device %d ISR %#x, want 1", b, isr)
	}
	if vm.levelOf(g) {
		t.Fatalf("GSI %d still high after both ISRs were read", g)
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if len(vm.msis) != 0 {
		t.Errorf("MSIs sent with MSI-X disabled: %v", vm.msis)
	}
}

// TestTwelveVirtioDevicesMSIX: with MSI-X on, each device's queue interrupt
// is its own table's message, and no INTx pin moves.
func TestTwelveVirtioDevicesMSIX(t *testing.T) {
	m, vm, drivers := twelveVirtio(t)
	qs := startRNGs(t, m, drivers, true)
	for i, d := range drivers {
		data := uint32(100*(i+1) + 1) // queue 0 uses vector 1
		request(t, d, qs[i])
		vm.waitFor(t, fmt.Sprintf("device %d's MSI", i), func() bool { return vm.msis[data] == 1 })
		used(t, qs[i])
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	for data, n := range vm.msis {
		if data%100 != 1 || data/100 < 1 || data/100 > 12 || n != 1 {
			t.Errorf("%d MSIs with data %d: want one queue message per device", n, data)
		}
	}
	if len(vm.msis) != 12 {
		t.Errorf("messages %v, want 12 distinct", vm.msis)
	}
	if len(vm.raises) != 0 {
		t.Errorf("INTx raised with MSI-X on: %v", vm.raises)
	}
	for i, d := range drivers {
		if isr := d.ReadISR(); isr != 0 {
			t.Errorf("device %d ISR %#x with MSI-X on", i, isr)
		}
	}
}

// TestDoorbellsFollowMemoryDecoding: a function whose command register has
// Memory Space off must not answer at its BARs (PCI 3.0 §6.2.2), so its
// ioeventfds leave KVM until the guest turns decoding back on; the other
// devices keep theirs.
func TestDoorbellsFollowMemoryDecoding(t *testing.T) {
	_, vm, drivers := twelveVirtio(t)
	cmd := drivers[3].CfgRead(0x04, 2)
	drivers[3].CfgWrite(0x04, 2, cmd&^uint32(pci.CommandMemory))
	if n := len(vm.bound); n != 11 {
		t.Fatalf("decoding off on one device: %d ioeventfds bound, want 11", n)
	}
	drivers[3].CfgWrite(0x04, 2, cmd)
	if n := len(vm.bound); n != 12 {
		t.Fatalf("decoding back on: %d ioeventfds bound, want 12", n)
	}
	// Other command bits leave the bindings alone.
	drivers[3].CfgWrite(0x04, 2, cmd|uint32(pci.CommandBusMaster))
	if n := len(vm.bound); n != 12 {
		t.Fatalf("bus master toggled: %d ioeventfds bound, want 12", n)
	}
}
