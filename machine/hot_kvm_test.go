//go:build kvm

package machine

import (
	"context"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govmm/govmm/guests"
)

// countDevice counts writes.
type countDevice struct{ n atomic.Uint64 }

func (*countDevice) Read(_ uint64, data []byte) { clear(data) }
func (d *countDevice) Write(uint64, []byte)     { d.n.Add(1) }

// countingMachine is a CPL-3 raw machine running img with a countDevice on
// guests.PIOPort; it is closed when the test ends.
func countingMachine(t *testing.T, img []byte) (*Machine, *countDevice) {
	t.Helper()
	m, err := New(Config{MemSize: 16 << 20, RawImage: img, RawMode: RawUser})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	dev := &countDevice{}
	if err := m.RegisterPIO("count", guests.PIOPort, 1, dev); err != nil {
		t.Fatal(err)
	}
	return m, dev
}

// TestHotExitsLeaveTheRuntimeWorking: while a guest makes nothing but port
// exits (each entered again with kvm.VCPU.RunHot, which keeps the VCPU
// goroutine's P), garbage collections that stop the world and another
// goroutine's timers still run, every exit reaches the device, and the
// machine's extra P is given back afterwards.
func TestHotExitsLeaveTheRuntimeWorking(t *testing.T) {
	requireKVM(t)
	const n = 20000
	procs := runtime.GOMAXPROCS(0)
	m, dev := countingMachine(t, guests.PIOLoop(n))
	stop := make(chan struct{})
	var gcs, ticks atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
				gcs.Add(1)
			}
		}
	}()
	go func() {
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				ticks.Add(1)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := m.Run(ctx)
	close(stop)
	if res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	if got := dev.n.Load(); got != n {
		t.Errorf("%d writes reached the device, want %d", got, n)
	}
	if gcs.Load() == 0 || ticks.Load() == 0 {
		t.Errorf("during the run: %d GCs, %d ticks; want both to have run", gcs.Load(), ticks.Load())
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after the run, want %d", got, procs)
	}
	t.Logf("%d exits with %d stop-the-world GCs and %d ticks alongside", n, gcs.Load(), ticks.Load())
}

// TestRawRunThatDoesNotExitLeavesTheRuntimeWorking: after a port exit the
// loop enters the guest with a raw KVM_RUN, and this guest then spins
// without another exit. A stop-the-world GC must still finish (Go's
// preemption signal ends the raw KVM_RUN), timers must still fire, and the
// timeout must still stop the machine.
func TestRawRunThatDoesNotExitLeavesTheRuntimeWorking(t *testing.T) {
	requireKVM(t)
	if !rawRunAllowed {
		t.Fatalf("raw KVM_RUN is off under GODEBUG=%q; this test needs it on", os.Getenv("GODEBUG"))
	}
	img := append(outb(guests.PIOPort, 1), guests.Spin...)
	m, dev := countingMachine(t, img)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	done := make(chan Result, 1)
	start := time.Now()
	go func() { done <- m.Run(ctx) }()
	for dev.n.Load() == 0 && time.Since(start) < 2*time.Second {
		time.Sleep(time.Millisecond)
	}
	if dev.n.Load() != 1 {
		t.Fatalf("the guest's port write did not arrive within 2 s")
	}
	gcStart := time.Now()
	runtime.GC()
	time.Sleep(5 * time.Millisecond)
	if d := time.Since(gcStart); d > time.Second {
		t.Errorf("a GC and a 5 ms sleep took %v beside a guest spinning in a raw KVM_RUN", d)
	}
	res := <-done
	if res.Code != ExitTimeout {
		t.Fatalf("result %v, want the timeout", res)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("stopping took %v", d)
	}
}
