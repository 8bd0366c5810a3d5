package virtio

import (
	"fmt"

	"github.com/govmm/govmm/memory"
)

// statusLocked is device_status as the driver reads it.
func (t *PCI) statusLocked() uint8 {
	s := t.status
	if t.needsReset.Load() {
		s |= StatusNeedsReset
	}
	return s
}

// writeStatusLocked handles a driver write to device_status (§2.1, §3.1.1).
func (t *PCI) writeStatusLocked(v uint8) {
	if v == 0 {
		t.resetLocked()
		return
	}
	v &^= StatusNeedsReset // set by the device only
	old := t.status
	if v&StatusFeaturesOK != 0 && old&StatusFeaturesOK == 0 {
		// §2.2.2: the device refuses features it did not offer; a
		// modern device also requires VIRTIO_F_VERSION_1 (§6.1). The
		// driver sees FEATURES_OK clear when it reads the status back.
		if t.driverFeatures&^t.offered != 0 || t.driverFeatures&FeatureVersion1 == 0 {
			v &^= StatusFeaturesOK
		} else {
			t.features = t.driverFeatures
		}
	}
	if v&StatusDriverOK != 0 && old&StatusDriverOK == 0 {
		if v&StatusFeaturesOK == 0 {
			v &^= StatusDriverOK // DRIVER_OK without FEATURES_OK is refused
		} else {
			t.activateLocked()
		}
	}
	t.status = v
}

// enableQueueLocked turns on queue i if its configuration is valid
// (§4.1.4.3.2: size a power of two no larger than the maximum, rings aligned
// and in RAM). An invalid queue stays disabled and the device asks for a
// reset, since the driver cannot use it.
func (t *PCI) enableQueueLocked(i int) {
	r := &t.queues[i]
	err := t.validateQueueLocked(i)
	if err != nil {
		t.fail(i, err)
		return
	}
	r.enabled = true
}

func (t *PCI) validateQueueLocked(i int) error {
	r := &t.queues[i]
	if r.size > t.maxSizes[i] {
		return fmt.Errorf("%w: size %d above maximum %d", ErrBadQueue, r.size, t.maxSizes[i])
	}
	_, err := NewQueue(t.mem, r.size, memory.GuestAddress(r.desc), memory.GuestAddress(r.driver), memory.GuestAddress(r.device), 0)
	return err
}

// activateLocked starts serving the enabled queues (DRIVER_OK, §3.1.1
// step 8).
func (t *PCI) activateLocked() {
	if t.closed || t.worker != nil {
		return
	}
	w := &worker{
		t:      t,
		queues: make([]*Queue, t.nq),
		broken: make([]bool, t.nq),
		done:   make(chan struct{}),
	}
	for i := range t.queues {
		r := &t.queues[i]
		if !r.enabled {
			continue
		}
		q, err := NewQueue(t.mem, r.size, memory.GuestAddress(r.desc), memory.GuestAddress(r.driver), memory.GuestAddress(r.device), t.features)
		if err != nil { // validated at enable; cannot happen
			t.fail(i, err)
			continue
		}
		q.Served = &t.served
		w.queues[i] = q
	}
	t.dev.Activate(t.features)
	t.worker = w
	go w.run()
}

// stopWorkerLocked stops the worker, if running, and waits for it.
func (t *PCI) stopWorkerLocked() {
	if t.worker == nil {
		return
	}
	signalEventfd(t.stopFD)
	<-t.worker.done
	drainEventfd(t.stopFD)
	t.worker = nil
}

// resetLocked is a device reset (driver wrote 0 to device_status,
// §4.1.4.3.2): the worker stops, the device and every queue return to
// their initial state. When the driver reads 0 back the reset is complete.
func (t *PCI) resetLocked() {
	t.stopWorkerLocked()
	t.dev.Reset()
	t.resetRegsLocked()
	for i := range t.notifiers {
		if t.notifiers[i].fd >= 0 {
			drainEventfd(t.notifiers[i].fd)
		}
	}
	t.intxMu.Lock()
	if t.isr != 0 && t.irq != nil {
		t.irq.SetLevel(false)
	}
	t.isr = 0
	t.intxMu.Unlock()
	t.errMu.Lock()
	t.err = nil
	t.errMu.Unlock()
	t.needsReset.Store(false)
}

// resetRegsLocked puts the registers in their reset state.
func (t *PCI) resetRegsLocked() {
	t.status = 0
	t.deviceFeatureSel, t.driverFeatureSel = 0, 0
	t.driverFeatures, t.features = 0, 0
	t.queueSel = 0
	t.configVector.Store(NoVector)
	for i := range t.queues {
		t.queues[i] = queueRegs{size: t.maxSizes[i]}
		t.vectors[i].Store(NoVector)
	}
}
