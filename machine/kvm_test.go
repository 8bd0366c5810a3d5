//go:build kvm

package machine

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/internal/kvmtest"
	"github.com/govmm/govmm/kvm"
)

// requireKVM opens /dev/kvm and logs the host (package kvmtest): it fails in
// CI when KVM is missing, and skips only on a developer's machine.
func requireKVM(tb testing.TB) {
	tb.Helper()
	kvmtest.Require(tb)
}

// runRaw runs a raw guest to completion and returns its result and console.
func runRaw(t *testing.T, img []byte, mode RawMode, timeout time.Duration) (Result, string, *Machine) {
	t.Helper()
	requireKVM(t)
	var out bytes.Buffer
	m, err := New(Config{MemSize: 16 << 20, RawImage: img, RawMode: mode, Console: &out, Stats: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res := m.Run(ctx)
	return res, out.String(), m
}

func TestRealModeGuestPrintsThroughUART(t *testing.T) {
	res, out, _ := runRaw(t, guests.RealMode, RawReal, 30*time.Second)
	if res.Code != ExitOK || !strings.Contains(res.Reason, "i8042") {
		t.Fatalf("result %v", res)
	}
	if out != "hello from real mode\n" {
		t.Fatalf("console %q", out)
	}
}

func TestLongModeGuestRunsAtCPL0(t *testing.T) {
	res, out, _ := runRaw(t, guests.Hello, RawLong, 30*time.Second)
	if res.Code != ExitOK || out != guests.HelloGreeting+"0\n" {
		t.Fatalf("result %v, console %q", res, out)
	}
}

func TestUserModeGuestRepOutsb(t *testing.T) {
	res, out, m := runRaw(t, guests.Hello, RawUser, 30*time.Second)
	if res.Code != ExitOK || out != guests.HelloGreeting+"3\n" {
		t.Fatalf("result %v, console %q", res, out)
	}
	// 48 bytes by rep outsb, the digit and the newline: 50 THR writes,
	// however KVM splits the rep into exits.
	var com1 *busRange
	for _, r := range m.pio.ranges {
		if r.name == "com1" {
			com1 = r
		}
	}
	if com1 == nil {
		t.Fatal("no com1 range on the PIO bus")
	}
	if n := com1.accesses.Load(); n != 50 {
		t.Fatalf("com1 accesses %d, want 50", n)
	}
	if m.vcpus[0].stats.count[kvm.ExitIO] == 0 {
		t.Fatal("no IO exits counted")
	}
}

func TestTripleFaultIsACrash(t *testing.T) {
	res, _, _ := runRaw(t, guests.TripleFault, RawUser, 30*time.Second)
	if res.Code != ExitCrash || !strings.Contains(res.Reason, "triple fault") {
		t.Fatalf("result %v", res)
	}
	// kvm-amd INITs the vCPU on a shutdown intercept, so the registers
	// hold the reset state: the report must say the RIP is unknown rather
	// than show RIP=0xfff0. The module, not the CPU vendor, decides: an
	// AMD CPU under kvm_pvm keeps the registers of the fault.
	if _, err := os.Stat("/sys/module/kvm_amd"); err == nil {
		if !strings.Contains(res.Detail, "faulting RIP is not known") ||
			strings.Contains(res.Detail, "RIP=0xfff0") || strings.Contains(res.Detail, "code at RIP") {
			t.Fatalf("kvm_amd: detail %q", res.Detail)
		}
		return
	}
	// The report names RIP and the bytes there: ud2 is 0f 0b.
	if !strings.Contains(res.Detail, "RIP=0x10000") || !strings.Contains(res.Detail, "0f 0b") || !strings.Contains(res.Detail, "ud2") {
		t.Fatalf("detail %q", res.Detail)
	}
}

func TestHaltWithInterruptsOffIsACrash(t *testing.T) {
	start := time.Now()
	res, _, _ := runRaw(t, guests.HaltForever, RawLong, 30*time.Second)
	if res.Code != ExitCrash || !strings.Contains(res.Reason, "halted with interrupts disabled") {
		t.Fatalf("result %v", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to notice the halt", d)
	}
}

func TestTimeoutStopsASpinningGuest(t *testing.T) {
	start := time.Now()
	res, _, _ := runRaw(t, guests.Spin, RawUser, 500*time.Millisecond)
	if res.Code != ExitTimeout {
		t.Fatalf("result %v", res)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stopping took %v", d)
	}
}

func TestCancelStopsAGuestInsideKVMRun(t *testing.T) {
	requireKVM(t)
	m, err := New(Config{MemSize: 16 << 20, RawImage: guests.HaltForever, RawMode: RawLong})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if res := m.Run(ctx); res.Code != ExitInterrupt {
		t.Fatalf("result %v", res)
	}
}

// nopDevice is the benchmark's port: it does nothing, so the benchmark
// measures the exit path alone.
type nopDevice struct{}

func (nopDevice) Read(uint64, []byte)  {}
func (nopDevice) Write(uint64, []byte) {}

// BenchmarkPIOExit: a CPL-3 guest issues b.N OUTs to a no-op device through
// the full dispatch path (KVM_RUN, decode, bus lookup, device). ns/op is the
// cost of one port I/O exit round trip.
func BenchmarkPIOExit(b *testing.B) {
	requireKVM(b)
	m, err := New(Config{MemSize: 16 << 20, RawImage: guests.PIOLoop(uint32(b.N)), RawMode: RawUser})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if err := m.RegisterPIO("nop", guests.PIOPort, 1, nopDevice{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	res := m.Run(context.Background())
	b.StopTimer()
	if res.Code != ExitOK {
		b.Fatalf("result %v", res)
	}
}

// TestNewChecksBeforeKVM: New runs Plan's checks (config_test.go covers
// them without KVM) before it opens /dev/kvm, so a bad config fails with
// Plan's error even where KVM works.
func TestNewChecksBeforeKVM(t *testing.T) {
	requireKVM(t)
	cfg := Config{MemSize: 16 << 20, RawImage: guests.Spin, CPUs: 65}
	_, planErr := cfg.Plan()
	m, err := New(cfg)
	if err == nil {
		m.Close()
		t.Fatal("-smp 65 accepted")
	}
	if planErr == nil || err.Error() != planErr.Error() {
		t.Fatalf("New: %v; Plan: %v", err, planErr)
	}
}

// TestJumpToResetVectorResets: a real-mode guest that jumps to f000:fff0,
// as Linux's machine_real_restart does for a BIOS reboot, runs govmm's
// reset stub, which pulses the i8042 reset line: exit 0, a guest reset.
func TestJumpToResetVectorResets(t *testing.T) {
	ljmp := []byte{0xea, 0xf0, 0xff, 0x00, 0xf0} // jmp far f000:fff0
	res, _, _ := runRaw(t, ljmp, RawReal, 5*time.Second)
	if res.Code != ExitOK || !res.Reset || !strings.Contains(res.Reason, "i8042") {
		t.Fatalf("%v (reset %v), want exit 0 and a reset through the i8042", res, res.Reset)
	}
}
