package virtio

import (
	"io"
	"sync"
)

const (
	consoleQueueSize = 256
	// consoleInputMax bounds host input held for the guest.
	consoleInputMax = 64 << 10
	// consoleConfigLen is struct virtio_console_config: cols, rows,
	// max_nr_ports, emerg_wr (§5.3.4). No feature is offered, so it only
	// reads zeros.
	consoleConfigLen = 12
	// Queue indices for port 0 without VIRTIO_CONSOLE_F_MULTIPORT (§5.3.2).
	consoleRX = 0
	consoleTX = 1
)

// Console is a virtio console with a single port (virtio 1.2 §5.3): queue
// 0 (receiveq) carries host input to the guest, queue 1 (transmitq) guest
// output to an io.Writer.
type Console struct {
	// out receives the guest's output, on the worker goroutine. Immutable.
	out io.Writer
	// kick wakes the worker. Set once by the transport (NewPCI), before
	// any Input call.
	kick func(queue int)

	// mu guards in.
	mu sync.Mutex
	// in is host input not yet delivered, at most consoleInputMax bytes.
	in []byte
}

// NewConsole returns a console whose guest output goes to out (discarded
// if out is nil).
func NewConsole(out io.Writer) *Console {
	if out == nil {
		out = io.Discard
	}
	return &Console{out: out, in: make([]byte, 0, consoleInputMax)}
}

// SetKick implements Kicker.
func (c *Console) SetKick(kick func(queue int)) { c.kick = kick }

// Input queues host input for the guest and returns how many bytes were
// taken (fewer than len(p) when the backlog is full). It never blocks and
// is safe from any goroutine.
func (c *Console) Input(p []byte) int {
	c.mu.Lock()
	n := min(len(p), consoleInputMax-len(c.in))
	c.in = append(c.in, p[:n]...)
	c.mu.Unlock()
	if n > 0 && c.kick != nil {
		c.kick(consoleRX)
	}
	return n
}

// Type implements Device.
func (c *Console) Type() uint16 { return DeviceIDConsole }

// Features implements Device: none.
func (c *Console) Features() uint64 { return 0 }

// QueueSizes implements Device: receiveq and transmitq of port 0.
func (c *Console) QueueSizes() []uint16 { return []uint16{consoleQueueSize, consoleQueueSize} }

// ConfigSize implements Device.
func (c *Console) ConfigSize() uint64 { return consoleConfigLen }

// ReadConfig implements Device.
func (c *Console) ReadConfig(off uint64, data []byte) { clear(data) }

// WriteConfig implements Device.
func (c *Console) WriteConfig(off uint64, data []byte) {}

// Activate implements Device.
func (c *Console) Activate(features uint64) {}

// Reset implements Device. Host input stays queued for the next driver.
func (c *Console) Reset() {}

// Close implements Device.
func (c *Console) Close() error { return nil }

// Handle implements Device.
func (c *Console) Handle(i int, q *Queue) error {
	switch i {
	case consoleRX:
		return c.receive(q)
	case consoleTX:
		return c.transmit(q)
	}
	return nil
}

// receive moves host input into the guest's receive buffers. Buffers stay
// available while there is no input.
func (c *Console) receive(q *Queue) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.in) > 0 {
		ch, err := q.Pop()
		if err != nil || ch == nil {
			return err
		}
		if ch.WritableLen() == 0 {
			return ErrNeedWritable
		}
		n := min(uint64(len(c.in)), ch.WritableLen())
		if err := ch.WriteAt(c.in[:n], 0); err != nil {
			return err
		}
		c.in = c.in[:copy(c.in, c.in[n:])]
		if err := q.Push(ch.Head, uint32(n)); err != nil {
			return err
		}
	}
	return nil
}

// transmit writes the guest's output buffers to out (device-writable
// buffers in a transmit chain are ignored). Output errors drop the data,
// like a serial line with nothing attached.
func (c *Console) transmit(q *Queue) error {
	for {
		ch, err := q.Pop()
		if err != nil || ch == nil {
			return err
		}
		if ch.ReadableLen() == 0 && ch.WritableLen() != 0 {
			return ErrNeedReadable
		}
		// An output error ends this chain's output; the chain is still
		// returned, and the next one is tried.
		ch.Segments(false, 0, ch.ReadableLen(), func(seg []byte) error {
			_, err := c.out.Write(seg)
			return err
		})
		if err := q.Push(ch.Head, 0); err != nil {
			return err
		}
	}
}
