// Package virtiotest plays the guest's side of virtio in tests: a fake
// split-virtqueue driver over plain test memory (the Go twin of rust-vmm's
// MockSplitQueue), a driver that initializes a device through the real PCI
// configuration and BAR registers, and fake interrupt sinks.
//
// Everything here writes guest memory from the test goroutine while the
// device's worker goroutine reads it. The fake driver therefore follows one
// rule: after Kick it touches the queue only once the device has answered
// (an interrupt arrived). Kicks and interrupts carry the happens-before
// edges the race detector needs.
package virtiotest
