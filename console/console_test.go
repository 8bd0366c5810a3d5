package console

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"
)

// recorder is a sink that records what it accepted and when quits happened.
type recorder struct {
	mu     sync.Mutex
	events []string // accepted chunks and "<quit>" markers, in order
	calls  int
	// accept limits how much one sink call takes; nil means everything.
	accept func(call int, p []byte) int
}

func (r *recorder) sink(p []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	n := len(p)
	if r.accept != nil {
		n = r.accept(r.calls, p)
	}
	if n > 0 {
		r.events = append(r.events, string(p[:n]))
	}
	return n
}

func (r *recorder) quit() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "<quit>")
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	for _, e := range r.events {
		b.WriteString(e)
	}
	return b.String()
}

func (r *recorder) numCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: input goroutine did not finish", what)
	}
}

func TestPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec := &recorder{}
	restore, finished, err := start(r, rec.sink, rec.quit)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	if _, err := w.Write([]byte("hello\x01xworld\x01\x01!")); err != nil {
		t.Fatal(err)
	}
	w.Close() // EOF ends the goroutine
	waitClosed(t, finished, "pipe EOF")
	if got, want := rec.String(), "hello<quit>world\x01!"; got != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
}

func TestDevNull(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := &recorder{}
	restore, finished, err := start(f, rec.sink, rec.quit)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(t, finished, "/dev/null")
	restore()
	restore() // twice is fine
	if n := rec.numCalls(); n != 0 {
		t.Errorf("sink called %d times for /dev/null", n)
	}
}

// The public entry point works on /dev/null too and returns a usable
// restore.
func TestStartDevNull(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	restore, err := Start(f, func(p []byte) int { return len(p) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	restore()
	restore()
}

func TestStartRejectsNil(t *testing.T) {
	if _, err := Start(nil, func(p []byte) int { return len(p) }, nil); err == nil {
		t.Error("Start(nil file) succeeded")
	}
	if _, err := Start(os.Stdin, nil, nil); err == nil {
		t.Error("Start(nil sink) succeeded")
	}
}

// A sink that takes at most one byte per call, and nothing on every third
// call, still receives everything in order.
func TestPartialSink(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec := &recorder{accept: func(call int, p []byte) int {
		if call%3 == 0 {
			return 0
		}
		return 1
	}}
	restore, finished, err := start(r, rec.sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer restore()
	msg := "partial writes\x01\x01 are retried"
	w.Write([]byte(msg))
	w.Close()
	waitClosed(t, finished, "partial sink")
	if got, want := rec.String(), "partial writes\x01 are retried"; got != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
}

// A sink that never accepts anything does not keep the goroutine alive once
// restore is called, and it is retried with a delay rather than in a spin.
func TestStopWhileSinkFull(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	rec := &recorder{accept: func(int, []byte) int { return 0 }}
	restore, finished, err := start(r, rec.sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("stuck"))
	time.Sleep(50 * time.Millisecond)
	calls := rec.numCalls()
	if calls == 0 {
		t.Fatal("sink never called")
	}
	// 50 ms at one retry per millisecond: far fewer than a spin would make.
	if calls > 200 {
		t.Errorf("sink called %d times in 50ms: spinning", calls)
	}
	restore()
	waitClosed(t, finished, "stop with full sink")
}

// After restore, input that arrives is not forwarded.
func TestNoDeliveryAfterStop(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	rec := &recorder{}
	restore, finished, err := start(r, rec.sink, rec.quit)
	if err != nil {
		t.Fatal(err)
	}
	restore()
	w.Write([]byte("late\x01x"))
	waitClosed(t, finished, "input after stop")
	if got := rec.String(); got != "" {
		t.Errorf("delivered %q after restore", got)
	}
}

// onQuit may call restore (the usual way to shut down) without deadlock.
func TestQuitCallsRestore(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	rec := &recorder{}
	var restore func()
	ready := make(chan struct{})
	quit := func() {
		<-ready
		rec.quit()
		restore()
	}
	restore, finished, err := start(r, rec.sink, quit)
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	w.Write([]byte("bye\x01x"))
	waitClosed(t, finished, "quit then restore")
	if got, want := rec.String(), "bye<quit>"; got != want {
		t.Errorf("delivered %q, want %q", got, want)
	}
}

func sleepMs(n int) { time.Sleep(time.Duration(n) * time.Millisecond) }
