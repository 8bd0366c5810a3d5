package virtiotest

import (
	"fmt"
	"sync"
	"time"
)

// FakeMSI is a pci.MSIController that counts messages by their data value
// (the driver helper programs vector v with data v).
type FakeMSI struct {
	mu sync.Mutex
	// counts holds messages not yet consumed by Wait, by data value.
	counts map[uint32]int
	// total counts every message ever sent, by data value.
	total map[uint32]int
	// wake is closed and replaced on every message.
	wake chan struct{}
}

// NewFakeMSI returns an MSI sink.
func NewFakeMSI() *FakeMSI {
	return &FakeMSI{counts: map[uint32]int{}, total: map[uint32]int{}, wake: make(chan struct{})}
}

// SignalMSI implements pci.MSIController.
func (f *FakeMSI) SignalMSI(addr uint64, data uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[data]++
	f.total[data]++
	close(f.wake)
	f.wake = make(chan struct{})
	return nil
}

// Wait consumes one message with the given data, waiting up to timeout.
func (f *FakeMSI) Wait(data uint32, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		if f.counts[data] > 0 {
			f.counts[data]--
			f.mu.Unlock()
			return nil
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			return fmt.Errorf("virtiotest: no MSI with data %d within %v", data, timeout)
		}
	}
}

// Total is the number of messages ever sent with the given data.
func (f *FakeMSI) Total(data uint32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total[data]
}

// FakeIRQ is a pci.IRQLine that records its level.
type FakeIRQ struct {
	mu    sync.Mutex
	level bool
	// raises counts low-to-high transitions.
	raises int
	wake   chan struct{}
}

// NewFakeIRQ returns a line, initially low.
func NewFakeIRQ() *FakeIRQ { return &FakeIRQ{wake: make(chan struct{})} }

// SetLevel implements pci.IRQLine.
func (f *FakeIRQ) SetLevel(high bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if high && !f.level {
		f.raises++
	}
	f.level = high
	close(f.wake)
	f.wake = make(chan struct{})
}

// Level is the current level.
func (f *FakeIRQ) Level() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.level
}

// WaitHigh waits up to timeout for the line to be high.
func (f *FakeIRQ) WaitHigh(timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		if f.level {
			f.mu.Unlock()
			return nil
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			return fmt.Errorf("virtiotest: INTx not raised within %v", timeout)
		}
	}
}
