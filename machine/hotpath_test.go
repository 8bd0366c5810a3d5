package machine

import (
	"testing"
	"time"

	"github.com/govmm/govmm/kvm"
)

func TestHotAllowed(t *testing.T) {
	for _, c := range []struct {
		godebug string
		want    bool
	}{
		{"", true},
		{"disablethp=1", true},
		{"asyncpreemptoff=1", false},
		{"asyncpreemptoff=0", true},
		{"madvdontneed=1, asyncpreemptoff=1", false},
		{"asyncpreemptoff=1,asyncpreemptoff=0", true}, // the last one wins, as in Go
		{"asyncpreemptoff=0,asyncpreemptoff=1", false},
		{"xasyncpreemptoff=1", true},
	} {
		if got := hotAllowed(c.godebug); got != c.want {
			t.Errorf("hotAllowed(%q) = %v, want %v", c.godebug, got, c.want)
		}
	}
}

func TestPacerRawOnlyAfterPortAndMMIOExits(t *testing.T) {
	p := newPacer(true)
	for r := kvm.ExitReason(0); r < 70; r++ {
		want := r == kvm.ExitIO || r == kvm.ExitMMIO
		if got := p.rawNext(r); got != want {
			t.Errorf("after exit %v: raw %v, want %v", r, got, want)
		}
	}
	off := newPacer(false)
	for _, r := range []kvm.ExitReason{kvm.ExitIO, kvm.ExitMMIO} {
		if off.rawNext(r) {
			t.Errorf("raw KVM_RUN off, yet raw after %v", r)
		}
	}
}

func TestPacerYieldsOnlyWhenDue(t *testing.T) {
	p := newPacer(true)
	p.tick() // the first exit looks at once (dueExits starts at 1)
	if p.exits != 1 || p.dueExits <= 1 {
		t.Fatalf("first exit: exits %d, next look at %d; want an early look that aims further", p.exits, p.dueExits)
	}
	// Not yet due: no yield, and the next look is aimed further out.
	p.turn = time.Since(p.start)
	p.exits = 10
	p.look()
	if p.exits != 10 || p.dueExits <= 10 {
		t.Errorf("early look: exits %d, next look at %d; want no yield and a later look", p.exits, p.dueExits)
	}
	// Due: the look yields, starts a new turn and aims at the rate seen:
	// 100 exits in 2*yieldAfter make 50 per yieldAfter.
	before := time.Since(p.start) - 2*yieldAfter
	p.turn, p.exits = before, 100
	p.look()
	if p.turn < before+2*yieldAfter || p.exits != 0 {
		t.Errorf("due look: turn %v (was %v), exits %d; want a yield", p.turn, before, p.exits)
	}
	if p.dueExits < 45 || p.dueExits > 50 {
		t.Errorf("after 100 exits in %v: next look at %d exits, want about 50", 2*yieldAfter, p.dueExits)
	}
}

func TestAimBounds(t *testing.T) {
	for _, c := range []struct {
		exits uint32
		since time.Duration
		want  uint32
	}{
		{100, yieldAfter / 2, 200},
		{100, 2 * yieldAfter, 50},
		{0, yieldAfter, 1},                         // never 0: the next exit looks again
		{1, time.Hour, 1},                          // slow exits: look at every one
		{1 << 30, time.Microsecond, maxYieldExits}, // bounded
	} {
		if got := aim(c.exits, c.since); got != c.want {
			t.Errorf("aim(%d, %v) = %d, want %d", c.exits, c.since, got, c.want)
		}
	}
}

func TestPacerTickLooksOnlyWhenDue(t *testing.T) {
	p := newPacer(true)
	p.turn = time.Since(p.start) // no yield due
	p.exits, p.dueExits = 0, 1000
	for i := 0; i < 999; i++ {
		p.tick()
	}
	if p.dueExits != 1000 {
		t.Fatalf("looked before the count: next look at %d", p.dueExits)
	}
	p.tick()
	if p.dueExits == 1000 {
		t.Errorf("no look at exit 1000")
	}
}
