package virtio

// Device is the device-type half of a virtio device (virtio 1.2 §5). The
// transport owns the registers, the queues, interrupts and the worker
// goroutine, and calls these methods:
//
//   - the accessors (Type, Features, QueueSizes, ConfigSize) at any time;
//   - ReadConfig and WriteConfig from the vCPU that touched the device
//     configuration space, concurrently with Handle;
//   - Activate, Handle and Reset from the worker or with the worker
//     stopped, never concurrently with each other.
type Device interface {
	// Type is the virtio device ID (§5): DeviceIDBlock and so on.
	Type() uint16
	// Features are the device-type feature bits offered; the transport
	// adds VERSION_1, EVENT_IDX and INDIRECT_DESC.
	Features() uint64
	// QueueSizes gives each queue's maximum size; its length is the
	// number of queues.
	QueueSizes() []uint16
	// ConfigSize is the size of the device configuration space.
	ConfigSize() uint64
	// ReadConfig and WriteConfig access the device configuration space;
	// off+len(data) <= ConfigSize.
	ReadConfig(off uint64, data []byte)
	WriteConfig(off uint64, data []byte)
	// Activate is called when the driver sets DRIVER_OK, with the
	// negotiated features.
	Activate(features uint64)
	// Handle consumes what is available on queue i, pushing each chain
	// back with q.Push. An error means the queue is broken: the transport
	// stops the queue and sets DEVICE_NEEDS_RESET.
	Handle(i int, q *Queue) error
	// Reset returns the device to its initial state (driver wrote 0 to the
	// status register).
	Reset()
	// Close releases host resources.
	Close() error
}

// Kicker is implemented by devices that produce work on their own (console
// input). The transport calls SetKick once, before the guest runs; kick(i)
// makes the worker call Handle(i, ...) soon. kick is safe from any
// goroutine and never blocks.
type Kicker interface {
	SetKick(kick func(queue int))
}

// HostWaiter is implemented by devices fed by host file descriptors (a tap,
// a socket). Before every wait the worker asks which descriptors to watch
// besides the queues' eventfds; when one is ready it serves that entry's
// queue as if the driver had kicked it. A device stops watching a
// descriptor it cannot act on (no guest buffers to receive into) by leaving
// it out, so a readable backend never makes the worker spin.
type HostWaiter interface {
	// HostWaits appends what to watch now to dst and returns it. It is
	// called on the worker only.
	HostWaits(dst []HostWait) []HostWait
}

// HostWait is one host descriptor the worker polls for a device.
type HostWait struct {
	FD int
	// Events are poll(2) events: unix.POLLIN, unix.POLLOUT.
	Events int16
	// Queue is the queue whose Handle makes progress when FD is ready.
	Queue int
}

// ConfigNotifier is implemented by devices whose configuration space
// changes on their own (a network link going down). The transport calls
// SetConfigChanged once, before the guest runs; calling notify sends the
// driver a configuration change notification (§4.1.5.3). Safe from the
// worker.
type ConfigNotifier interface {
	SetConfigChanged(notify func())
}
