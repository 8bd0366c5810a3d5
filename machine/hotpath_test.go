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
	p.tick() // the first exit looks at once (lookExits starts at 1)
	if p.exits != 0 || p.lastLook == 0 {
		t.Fatalf("first exit: exits %d, last look %v; want a look", p.exits, p.lastLook)
	}
	// Not yet due: the turn stays where it was.
	p.turn = p.lastLook
	turn := p.turn
	p.look()
	if p.turn != turn {
		t.Errorf("yielded %v after the last turn, before yieldAfter (%v)", p.lastLook-turn, yieldAfter)
	}
	// Due: the look yields and starts a new turn.
	p.turn = time.Since(p.start) - 2*yieldAfter
	before := p.turn
	p.look()
	if p.turn < before+2*yieldAfter {
		t.Errorf("no turn taken %v after the last one (turn %v, before %v)", 2*yieldAfter, p.turn, before)
	}
}

func TestPacerLooksAboutEveryMillisecond(t *testing.T) {
	p := newPacer(true)
	// Exits far apart: every exit looks.
	for i := 0; i < 3; i++ {
		p.lastLook = time.Since(p.start) - 10*lookEvery
		p.look()
	}
	if p.lookExits != 1 {
		t.Errorf("exits 10 ms apart: a look every %d exits, want 1", p.lookExits)
	}
	// Exits close together: the count doubles up to its bound.
	for i := 0; i < 20; i++ {
		p.lastLook = time.Since(p.start)
		p.look()
	}
	if p.lookExits != maxLookExits {
		t.Errorf("exits back to back: a look every %d exits, want %d", p.lookExits, maxLookExits)
	}
	// And halves again when they slow down.
	p.lastLook = time.Since(p.start) - 10*lookEvery
	p.look()
	if p.lookExits != maxLookExits/2 {
		t.Errorf("after a slow stretch: a look every %d exits, want %d", p.lookExits, maxLookExits/2)
	}
	// tick looks only when the count is reached.
	p.exits = 0
	for i := uint32(1); i < p.lookExits; i++ {
		p.tick()
	}
	if p.exits != p.lookExits-1 {
		t.Fatalf("exits %d after %d ticks", p.exits, p.lookExits-1)
	}
	p.tick()
	if p.exits != 0 {
		t.Errorf("no look after %d ticks", p.lookExits)
	}
}
