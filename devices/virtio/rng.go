package virtio

import (
	"fmt"

	"golang.org/x/sys/unix"
)

const (
	// rngMaxRequest bounds the bytes served per buffer, so one request
	// cannot keep the worker in getrandom for long.
	rngMaxRequest = 64 << 10
	rngQueueSize  = 256
)

// RNG is a virtio entropy device (virtio 1.2 §5.4): it fills each
// device-writable buffer from the host's getrandom(2).
type RNG struct{}

// NewRNG returns an entropy device.
func NewRNG() *RNG { return &RNG{} }

// Type implements Device.
func (r *RNG) Type() uint16 { return DeviceIDEntropy }

// Features implements Device: none (§5.4.3).
func (r *RNG) Features() uint64 { return 0 }

// QueueSizes implements Device: one request queue (§5.4.2).
func (r *RNG) QueueSizes() []uint16 { return []uint16{rngQueueSize} }

// ConfigSize implements Device: no configuration (§5.4.4).
func (r *RNG) ConfigSize() uint64 { return 0 }

// ReadConfig implements Device.
func (r *RNG) ReadConfig(off uint64, data []byte) {}

// WriteConfig implements Device.
func (r *RNG) WriteConfig(off uint64, data []byte) {}

// Activate implements Device.
func (r *RNG) Activate(features uint64) {}

// Reset implements Device.
func (r *RNG) Reset() {}

// Close implements Device.
func (r *RNG) Close() error { return nil }

// Handle implements Device. A chain with no writable byte breaks the queue
// (§5.4.6.1: the driver places only device-writable buffers).
func (r *RNG) Handle(i int, q *Queue) error {
	for {
		c, err := q.Pop()
		if err != nil || c == nil {
			return err
		}
		if c.WritableLen() == 0 {
			return ErrNeedWritable
		}
		n := min(c.WritableLen(), rngMaxRequest)
		if err := c.Segments(true, 0, n, fillRandom); err != nil {
			return err
		}
		if err := q.Push(c.Head, uint32(n)); err != nil {
			return err
		}
	}
}

// fillRandom fills p from getrandom(2), which may return short counts.
func fillRandom(p []byte) error {
	for len(p) > 0 {
		n, err := unix.Getrandom(p, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("virtio-rng: getrandom: %w", err)
		}
		p = p[n:]
	}
	return nil
}
