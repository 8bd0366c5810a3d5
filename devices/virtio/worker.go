package virtio

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// notifier is one queue's available-buffer notification: an eventfd the
// machine binds to the notify address with KVM_IOEVENTFD, or that the
// transport writes itself.
type notifier struct {
	// fd is the eventfd; -1 once closed. Close sets it under PCI.fdMu
	// for writing, after the worker has stopped; kick reads it under
	// fdMu for reading, the worker and reset without (they never run
	// concurrently with Close).
	fd int
	// kicks counts notifications that went through Go code (the
	// transport's notify register, a device's own kick). The worker loads
	// it after waking: the atomic pair orders the kicker's earlier writes
	// to guest memory before the worker's reads for the race detector,
	// which cannot see through the eventfd. KVM's writes need no such
	// edge: the guest's stores are invisible to Go.
	kicks atomic.Uint64
}

// kick wakes the worker for queue i. Safe from any goroutine, and a no-op
// after Close.
func (t *PCI) kick(i int) {
	if i < 0 || i >= t.nq {
		return
	}
	t.fdMu.RLock()
	defer t.fdMu.RUnlock()
	n := &t.notifiers[i]
	if n.fd < 0 {
		return
	}
	n.kicks.Add(1)
	signalEventfd(n.fd)
}

// worker is the goroutine that serves one activated device: it waits on the
// queues' eventfds and calls Device.Handle. It never takes the transport's
// register lock or the PCI configuration lock, so the transport may stop it
// while holding either.
type worker struct {
	t      *PCI
	queues []*Queue // nil for a queue the driver did not enable
	// broken marks queues that failed; only the worker touches it.
	broken []bool
	done   chan struct{}
}

// run serves the queues until the stop eventfd fires.
func (w *worker) run() {
	defer close(w.done)
	t := w.t
	fixed := 1 + len(w.queues)
	pfds := make([]unix.PollFd, fixed)
	pfds[0] = unix.PollFd{Fd: int32(t.stopFD), Events: unix.POLLIN}
	for i := range w.queues {
		pfds[1+i] = unix.PollFd{Fd: int32(t.notifiers[i].fd), Events: unix.POLLIN}
	}
	host, _ := t.dev.(HostWaiter)
	var waits []HostWait
	// No initial pass over the queues: a kick that came before DRIVER_OK
	// is still counted in its eventfd (only a reset drains them), so the
	// first Poll sees it. Touching guest memory without a kick would also
	// race with a driver still filling its rings.
	for {
		pfds = pfds[:fixed]
		for i := range pfds {
			pfds[i].Revents = 0
		}
		if host != nil {
			waits = host.HostWaits(waits[:0])
			for _, h := range waits {
				pfds = append(pfds, unix.PollFd{Fd: int32(h.FD), Events: h.Events})
			}
		}
		if _, err := unix.Poll(pfds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			t.fail(-1, err)
			return
		}
		if pfds[0].Revents != 0 {
			return
		}
		for i := range w.queues {
			if pfds[1+i].Revents == 0 {
				continue
			}
			drainEventfd(t.notifiers[i].fd)
			t.notifiers[i].kicks.Load()
			w.service(i)
		}
		for k, h := range waits {
			if pfds[fixed+k].Revents != 0 && h.Queue >= 0 && h.Queue < len(w.queues) {
				w.service(h.Queue)
			}
		}
	}
}

// service drains queue i and raises its interrupt if the driver wants one.
// Every guest-memory access of a round happens before its interrupt, so
// the driver (or a test) that waits for the interrupt sees a quiet queue.
func (w *worker) service(i int) {
	q := w.queues[i]
	if q == nil || w.broken[i] {
		return
	}
	var failed error
	for {
		before := q.NextAvail()
		if failed = w.t.dev.Handle(i, q); failed != nil {
			break
		}
		var more bool
		if more, failed = q.EnableNotify(); failed != nil {
			break
		}
		// Loop only when the device made progress: a device that is
		// waiting for host data (console receive) leaves buffers
		// available and would otherwise spin.
		if !more || q.NextAvail() == before {
			break
		}
	}
	if need, err := q.NeedsInterrupt(); err == nil && need {
		w.t.signalQueue(i)
	}
	if failed != nil {
		w.broken[i] = true
		w.t.fail(i, failed)
	}
}
