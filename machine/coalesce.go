package machine

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/kvm"
)

// Coalesced port I/O: writes whose effect nobody can see before the guest's
// next exit are completed by KVM in the kernel and queued on a ring
// (kvm/coalesced.go) instead of exiting; govmm applies them, in order, at
// the next exit of any VCPU. Two kinds qualify:
//
//   - PCI CONFIG_ADDRESS (0xCF8-0xCFB). The latch is only observed by a
//     read of 0xCF8 or an access to CONFIG_DATA (0xCFC-0xCFF), both of
//     which exit; byte and word writes there are ignored by pci.ConfigIO
//     anyway. Every configuration access of Linux's pci_conf1_read/write
//     is an address write then a data access: half its exits go away.
//   - COM1's THR (0x3F8, one byte), only while the UART is in polled
//     transmit (serial.UART.PolledTransmit: DLAB 0, the THR-empty
//     interrupt off, no loopback). Linux's console writes a character as
//     an LSR read, which exits and so applies the previous character, then
//     a THR write, now coalesced; it ends with an LSR read waiting for
//     BOTH_EMPTY, which applies the last one. When the guest enables the
//     THR-empty interrupt or DLAB, the zone is unregistered (settle), so
//     interrupt-driven output and the divisor latch see every write at once.
//
// The drain rule keeps this invisible to the guest: before govmm handles
// any exit, on any VCPU, it drains the ring (drain), so an exit that reads
// a device state sees every write the guest made before it; the ring is
// also drained when the run ends and every drainPeriod, so that output
// reaches the console even from a guest that stops exiting.
//
// The ring is per VM and drained under one mutex, so with several VCPUs
// the writes are applied one at a time in ring order, which is the order
// KVM took them in; a VCPU that finds another draining waits for it, and
// so still sees its own earlier writes applied when its drain returns.
type coalescer struct {
	ring *kvm.CoalescedRing
	vm   *kvm.VM
	m    *Machine

	// mu serializes drains and zone changes; the fields below are
	// guarded by it.
	mu sync.Mutex
	// thrOn is true while com1THRZone is registered; disabled keeps it off
	// (tests compare with and without).
	thrOn, disabled bool
	// applied counts the coalesced writes applied, per bus range (nil:
	// no device there).
	applied map[*busRange]uint64
	drains  uint64
	// ringErrs counts drains that found the ring corrupt; firstErr is
	// the first such error.
	ringErrs uint64
	firstErr error
	// zoneChanges counts COM1 THR (un)registrations; zoneErrs the failed
	// ones after set-up.
	zoneChanges, zoneErrs uint64

	// dirty is set by the UART when its transmit mode changes; the VCPU
	// that made the change settles it after handling the exit.
	dirty atomic.Bool
}

var (
	pciAddrZone = kvm.CoalescedZone{Addr: pci.ConfigIOPort, Size: 4, PIO: true}
	com1THRZone = kvm.CoalescedZone{Addr: com1Port, Size: 1, PIO: true}
)

// drainPeriod is how often the ring is drained without an exit: the
// longest a guest that writes the console and then computes without
// exiting leaves its output unseen. The sampler's kicks (samplePeriod)
// drain too, but are ten times rarer.
const drainPeriod = 50 * time.Millisecond

// createCoalescing sets up coalesced port I/O when KVM offers it
// (KVM_CAP_COALESCED_MMIO and KVM_CAP_COALESCED_PIO); without it, or if
// anything fails, the machine runs as before: every write exits. Call it
// after createVCPUs (the ring is mapped through VCPU 0).
func (m *Machine) createCoalescing() error {
	off, err := m.sys.CheckExtension(kvm.CapCoalescedMMIO)
	if err != nil || off <= 0 {
		m.logf("coalesced I/O: not offered by this KVM (%v); every port write exits", kvm.CapCoalescedMMIO)
		return nil
	}
	if n, err := m.sys.CheckExtension(kvm.CapCoalescedPIO); err != nil || n <= 0 {
		m.logf("coalesced I/O: not offered by this KVM (%v); every port write exits", kvm.CapCoalescedPIO)
		return nil
	}
	ring, err := m.vcpus[0].cpu.CoalescedRing(off)
	if err != nil {
		m.logf("coalesced I/O: %v; every port write exits", err)
		return nil
	}
	c := &coalescer{ring: ring, vm: m.vm, m: m, applied: map[*busRange]uint64{}}
	if err := m.vm.RegisterCoalesced(pciAddrZone); err != nil {
		m.logf("coalesced I/O: %v; every port write exits", err)
		return nil
	}
	m.coalesce = c
	m.UART.OnPolledTransmitChange(func(bool) { c.dirty.Store(true) })
	c.mu.Lock()
	err = c.reconcileLocked()
	c.mu.Unlock()
	if err != nil {
		m.logf("coalesced I/O: %v; COM1's writes exit", err)
	}
	m.logf("coalesced I/O: %v always, %v while COM1 transmits polled (ring of %d at page %d)", pciAddrZone, com1THRZone, ring.Entries(), off)
	return nil
}

// drain applies every coalesced write queued so far. It is the first thing
// a VCPU does after KVM_RUN returns. Nil-safe: a machine without
// coalescing has a nil coalescer.
func (c *coalescer) drain() {
	if c.pending() {
		c.drainNow()
	}
}

// pending reports whether the ring holds writes. It is safe without the
// lock: a write this VCPU made before its exit is either still in the ring
// or was handed back by another drain after it was applied. Small enough
// to inline, so that the VCPU loop checks it after every exit without a
// call.
func (c *coalescer) pending() bool { return c != nil && !c.ring.Empty() }

// drainNow is drain once pending said yes.
func (c *coalescer) drainNow() {
	c.mu.Lock()
	c.drainLocked()
	c.mu.Unlock()
}

func (c *coalescer) drainLocked() {
	c.drains++
	_, err := c.ring.Drain(func(w kvm.CoalescedWrite) {
		bus := c.m.mmio
		if w.PIO {
			bus = c.m.pio
		}
		r := bus.Write(w.Addr, w.Data)
		if r != nil {
			r.accesses.Add(1)
		}
		c.applied[r]++
	})
	if err != nil {
		if c.ringErrs++; c.firstErr == nil {
			c.firstErr = err
			c.m.logf("%v", err)
		}
	}
}

// settle follows a change of the UART's transmit mode: it runs on the VCPU
// that made the change, right after handling that exit (or on the drain
// timer), outside every device lock.
//
// Its check inlines; the work is in settleNow.
func (c *coalescer) settle() {
	if c != nil && c.dirty.Load() {
		c.settleNow()
	}
}

func (c *coalescer) settleNow() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reconcileLocked(); err != nil {
		if c.zoneErrs++; c.zoneErrs == 1 {
			c.m.logf("coalesced I/O: %v", err)
		}
	}
}

// reconcileLocked registers or unregisters COM1's THR zone to match the
// UART's mode now. Writes queued before the change are applied first, and
// those another VCPU queued while the zone was going away right after.
func (c *coalescer) reconcileLocked() error {
	c.dirty.Store(false) // before reading the mode: a later change sets it again
	c.drainLocked()
	want := !c.disabled && c.m.UART.PolledTransmit()
	if want == c.thrOn {
		return nil
	}
	var err error
	if want {
		err = c.vm.RegisterCoalesced(com1THRZone)
	} else {
		err = c.vm.UnregisterCoalesced(com1THRZone)
	}
	if err != nil {
		// Not retried until the next mode change: a failing ioctl
		// per exit would cost more than the exits saved.
		return err
	}
	c.thrOn = want
	c.zoneChanges++
	c.drainLocked()
	return nil
}

// setEnabled turns coalescing off (every write exits, as without the
// capability) or back on. For tests, before or after Run.
func (c *coalescer) setEnabled(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drainLocked()
	var err error
	if on && c.disabled {
		err = c.vm.RegisterCoalesced(pciAddrZone)
	} else if !on && !c.disabled {
		err = c.vm.UnregisterCoalesced(pciAddrZone)
	}
	if err != nil {
		return err
	}
	c.disabled = !on
	return c.reconcileLocked()
}

// start drains the ring every drainPeriod until the returned function is
// called; that function stops the timer and drains a last time, so that
// the run's result is reported with every write applied.
func (c *coalescer) start() (stop func()) {
	if c == nil {
		return func() {}
	}
	t := time.NewTicker(drainPeriod)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				c.drain()
				c.settle()
			}
		}
	}()
	return func() {
		t.Stop()
		close(quit)
		<-done
		c.drain()
	}
}

// writeStats prints how many writes were coalesced, per device.
func (c *coalescer) writeStats(w io.Writer) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var total uint64
	var parts []string
	for r, n := range c.applied {
		total += n
		name := "(no device)"
		if r != nil {
			name = r.name
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, n))
	}
	sort.Strings(parts)
	fmt.Fprintf(w, "\ncoalesced writes (completed in KVM without an exit, applied at the next one): %d", total)
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "; COM1 THR zone (un)registered %d times\n", c.zoneChanges)
	if c.ringErrs > 0 {
		fmt.Fprintf(w, "coalesced ring errors: %d, first: %v\n", c.ringErrs, c.firstErr)
	}
	if c.zoneErrs > 0 {
		fmt.Fprintf(w, "coalesced zone changes failed: %d\n", c.zoneErrs)
	}
}
