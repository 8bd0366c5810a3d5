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
//     as rarely as sysmon allows: once per yieldAfter.
const (
	// yieldAfter is the time after which the loop yields: inside
	// sysmon's 10 ms (forcePreemptNS) by more than lookEvery.
	yieldAfter = 8 * time.Millisecond
	// lookEvery is about how often the loop reads the clock. Reading it
	// is a system call on hosts whose clocksource has no vDSO (the nested
	// test host's HPET), so the loop counts exits between looks and
	// adapts the count to the exit rate.
	lookEvery = time.Millisecond
	// maxLookExits bounds the exits between two looks.
	maxLookExits = 1 << 12
)

// pacer is one VCPU loop's state for the two (loop goroutine only).
type pacer struct {
	// rawAfter has bit n set when an exit of reason n is followed by a
	// raw KVM_RUN: port and MMIO exits, or none when hotAllowed says no.
	rawAfter uint64
	// raw says to enter the guest next with RunHot.
	raw bool
	// exits counts exits since the last look at the clock, and lookExits
	// is how many make the next look due (1 to maxLookExits).
	exits, lookExits uint32
	// start is the pacer's zero time; lastLook and turn are the last
	// look at the clock and the last yield, as durations since start
	// (time.Since reads only the monotonic clock).
	start          time.Time
	lastLook, turn time.Duration
}

func newPacer(rawOK bool) pacer {
	p := pacer{start: time.Now(), lookExits: 1}
	if rawOK {
		p.rawAfter = 1<<kvm.ExitIO | 1<<kvm.ExitMMIO
	}
	return p
}

// rawNext reports whether an exit of reason r is followed by a raw
// KVM_RUN. Small enough to inline, as is tick: both run after every exit.
func (p *pacer) rawNext(r kvm.ExitReason) bool { return r < 64 && p.rawAfter>>r&1 != 0 }

// tick counts an exit and looks at the clock when due.
func (p *pacer) tick() {
	if p.exits++; p.exits >= p.lookExits {
		p.look()
	}
}

// look reads the clock, adapts the exits between looks to lookEvery, and
// yields if the last turn was yieldAfter ago.
func (p *pacer) look() {
	now := time.Since(p.start)
	switch since := now - p.lastLook; {
	case since < lookEvery/2 && p.lookExits < maxLookExits:
		p.lookExits *= 2
	case since > 2*lookEvery && p.lookExits > 1:
		p.lookExits /= 2
	}
	p.exits, p.lastLook = 0, now
	if now-p.turn >= yieldAfter {
		runtime.Gosched()
		p.turn = time.Since(p.start)
	}
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
