package machine

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLog records each Write as one entry.
type writeLog struct {
	mu     sync.Mutex
	writes []string
	fail   bool
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail {
		return 0, errors.New("refused")
	}
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writeLog) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

// TestConsoleBatchWritesLines: bytes handed over one at a time, as the
// UART does, reach the console a line per write, in order.
func TestConsoleBatchWritesLines(t *testing.T) {
	log := &writeLog{}
	c := newConsoleBatch(log)
	c.delay = time.Hour // only newlines write, however slow this test runs
	for _, b := range []byte("Linux version 6.1\nRun /init\n") {
		if n, err := c.Write([]byte{b}); n != 1 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := log.get(); strings.Join(got, "|") != "Linux version 6.1\n|Run /init\n" {
		t.Fatalf("writes %q, want one per line", got)
	}
}

// TestConsoleBatchFlushesPartialLine: a prompt without a newline is written
// within a few consoleFlushDelays, and flush writes one at once.
func TestConsoleBatchFlushesPartialLine(t *testing.T) {
	log := &writeLog{}
	c := newConsoleBatch(log)
	c.Write([]byte("# "))
	deadline := time.Now().Add(2 * time.Second)
	for len(log.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := log.get(); len(got) != 1 || got[0] != "# " {
		t.Fatalf("after the delay: writes %q, want [\"# \"]", got)
	}
	c.Write([]byte("ls"))
	c.flush()
	if got := log.get(); len(got) != 2 || got[1] != "ls" {
		t.Fatalf("after flush: writes %q", got)
	}
}

// TestConsoleBatchBoundsItsBuffer: without a newline, at most
// consoleFlushSize bytes wait.
func TestConsoleBatchBoundsItsBuffer(t *testing.T) {
	log := &writeLog{}
	c := newConsoleBatch(log)
	c.delay = time.Hour
	for i := 0; i < consoleFlushSize; i++ {
		c.Write([]byte{'x'})
	}
	if got := log.get(); len(got) != 1 || len(got[0]) != consoleFlushSize {
		t.Fatalf("%d writes, want one of %d bytes", len(got), consoleFlushSize)
	}
}

// TestConsoleBatchCountsRefusedBytes: a console that fails loses the
// bytes, counted, and never blocks the UART.
func TestConsoleBatchCountsRefusedBytes(t *testing.T) {
	log := &writeLog{fail: true}
	c := newConsoleBatch(log)
	if n, err := c.Write([]byte("abc\n")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v; want 4, nil", n, err)
	}
	if got := c.droppedBytes(); got != 4 {
		t.Fatalf("dropped %d, want 4", got)
	}
}
