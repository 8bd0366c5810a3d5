package machine

import (
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/govmm/govmm/kvm"
)

// The VCPU loop's two concessions to Go's scheduler (Go 1.26, proc.go):
//
//   - Raw KVM_RUN. After a port or MMIO exit the guest tends to exit again
//     soon (a console line, a device's set-up), so the loop enters it with
//     kvm.VCPU.RunHot, which skips entersyscall and exitsyscall. The
//     goroutine keeps its P meanwhile; reserveProcs adds one P per VCPU so
//     that devices never wait for it. Any other exit goes back to the plain
//     call, which lets the P go while the guest runs or halts.
//   - A turn for the scheduler about every 8 ms. sysmon's retake treats a
//     P whose schedtick has not moved for 10 ms as hogged: it preempts a
//     running goroutine with a signal (a raw KVM_RUN ends with EINTR), and
//     it takes the P away from one in a system call at every tick from
//     then on, so sysmon spins at 20 us and each exit finds its P gone. A
//     VCPU that exits all the time never reaches the scheduler on its own,
//     so the loop calls runtime.Gosched itself. That costs a hand-off
//     between threads (the goroutine is locked to its own), so it is done
//     as rarely as sysmon allows: about once per yieldAfter.
//
// The loop counts exits to know when a yield is due, and reads the clock
// only then: a read is a system call on hosts whose clocksource has no
// vDSO (the nested test host's HPET: 1.8 us there, 0.02 us with a vDSO).
// Each yield aims the next one at yieldAfter from the exit rate just seen.
const (
	// yieldAfter is the aim between two yields: inside sysmon's 10 ms
	// (forcePreemptNS). A yield that comes late because the guest slowed
	// down is harmless: sysmon preempts, as it would without the pacer.
	yieldAfter = 8 * time.Millisecond
	// maxYieldExits bounds the exits between two looks at the clock.
	maxYieldExits = 1 << 20
)

// pacer is one VCPU loop's state for the two (loop goroutine only).
type pacer struct {
	// rawAfter has bit n set when an exit of reason n is followed by a
	// raw KVM_RUN: port and MMIO exits, or none when hotAllowed says no.
	rawAfter uint64
	// raw says to enter the guest next with RunHot.
	raw bool
	// exits counts exits since the last yield; at dueExits the loop
	// looks at the clock (1 to maxYieldExits).
	exits, dueExits uint32
	// start is the pacer's zero time, and turn the last yield as a
	// duration since start (time.Since reads only the monotonic clock).
	start time.Time
	turn  time.Duration
}

func newPacer(rawOK bool) pacer {
	p := pacer{start: time.Now(), dueExits: 1}
	if rawOK {
		p.rawAfter = 1<<kvm.ExitIO | 1<<kvm.ExitMMIO
	}
	return p
}

// rawNext reports whether an exit of reason r is followed by a raw
// KVM_RUN. Small enough to inline, as is tick: both run after every exit.
func (p *pacer) rawNext(r kvm.ExitReason) bool { return r < 64 && p.rawAfter>>r&1 != 0 }

// tick counts an exit and looks at the clock when a yield may be due.
func (p *pacer) tick() {
	if p.exits++; p.exits >= p.dueExits {
		p.look()
	}
}

// look reads the clock once. If yieldAfter has passed since the last
// yield, it yields; either way it aims the next look at yieldAfter after
// the last yield, at the rate of exits seen since it.
func (p *pacer) look() {
	since := max(time.Since(p.start)-p.turn, time.Microsecond)
	perYield := aim(p.exits, since)
	if since < yieldAfter {
		// Early: the exits came faster than the last aim. Aim again.
		p.dueExits = min(max(perYield, p.exits+1), maxYieldExits)
		return
	}
	p.dueExits = perYield
	p.exits = 0
	runtime.Gosched()
	p.turn = time.Since(p.start)
}

// aim returns how many exits come in yieldAfter at the rate of exits in
// since, between 1 and maxYieldExits.
func aim(exits uint32, since time.Duration) uint32 {
	n := uint64(exits) * uint64(yieldAfter) / uint64(since)
	return uint32(min(max(n, 1), maxYieldExits))
}

// hotAllowed reports whether raw KVM_RUN may be used under this GODEBUG.
// With asyncpreemptoff=1 Go sends no preemption signal, so a
// stop-the-world would wait for a VCPU idling in a raw KVM_RUN until its
// guest next exits, which may be never. Later settings win, as in Go.
func hotAllowed(godebug string) bool {
	ok := true
	for _, kv := range strings.Split(godebug, ",") {
		if k, v, found := strings.Cut(strings.TrimSpace(kv), "="); found && k == "asyncpreemptoff" {
			ok = v != "1"
		}
	}
	return ok
}

// rawRunAllowed is hotAllowed for this process's GODEBUG.
var rawRunAllowed = hotAllowed(os.Getenv("GODEBUG"))
