package machine

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// consoleFlushDelay bounds how long console output without a newline
// waits: a shell prompt or an echoed key still shows at once to a person.
const consoleFlushDelay = 5 * time.Millisecond

// consoleFlushSize is how many bytes consoleBatch gathers at most.
const consoleFlushSize = 4096

// consoleBatch sits between the UART and Config.Console and writes the
// guest's console output a line at a time. The UART hands over each byte
// on its own, from the VCPU thread, in the middle of handling an exit:
// written straight on, a boot's tens of thousands of bytes cost as many
// write(2) calls, each one time the guest does not run (measured on the
// nested test host: the console is about a third of a test-kernel boot).
// consoleBatch writes when a newline arrives, when consoleFlushSize bytes
// are waiting, consoleFlushDelay after the first byte of a line that does
// not end, and when the run ends (flush). Bytes keep their order.
type consoleBatch struct {
	out io.Writer

	mu  sync.Mutex
	buf []byte
	// timer flushes a line that has not ended; armed while buf is not
	// empty.
	timer *time.Timer
	armed bool
	// delay is consoleFlushDelay (tests lengthen it).
	delay time.Duration
	// dropped counts bytes out did not accept.
	dropped uint64
}

func newConsoleBatch(out io.Writer) *consoleBatch {
	c := &consoleBatch{out: out, buf: make([]byte, 0, consoleFlushSize), delay: consoleFlushDelay}
	c.timer = time.AfterFunc(time.Hour, c.flush)
	c.timer.Stop()
	return c
}

// Write gathers p and writes what has gathered once p holds a newline or
// the buffer is full. It never fails: refused bytes are counted.
func (c *consoleBatch) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	if bytes.IndexByte(p, '\n') >= 0 || len(c.buf) >= consoleFlushSize {
		c.writeLocked()
		return len(p), nil
	}
	if !c.armed {
		c.armed = true
		c.timer.Reset(c.delay)
	}
	return len(p), nil
}

// flush writes whatever has gathered.
func (c *consoleBatch) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeLocked()
}

func (c *consoleBatch) writeLocked() {
	if c.armed {
		c.armed = false
		c.timer.Stop()
	}
	if len(c.buf) == 0 {
		return
	}
	n, err := c.out.Write(c.buf)
	if err != nil || n < len(c.buf) {
		c.dropped += uint64(len(c.buf) - max(n, 0))
	}
	c.buf = c.buf[:0]
}

// droppedBytes is how many bytes the console refused.
func (c *consoleBatch) droppedBytes() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}
