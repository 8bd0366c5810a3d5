package virtio

import (
	"encoding/binary"
	"io"
	"sync"
	"time"

	"github.com/hugelgupf/p9/p9"
)

const (
	// ninePMaxReply bounds an R-message taken from the server: Rread
	// is count[4] and at most msize bytes after the header.
	ninePMaxReply = NinePMaxMsize + ninePRlerrorLen
	// ninePMaxCost is the most one request can count in flight.
	ninePMaxCost = NinePMaxMsize + ninePMaxReply
	// ninePQuiet is how long the server must have been idle before its
	// connection is closed, and ninePStopWait how long shutdown waits
	// at most for each of its steps.
	ninePQuiet    = 20 * time.Millisecond
	ninePStopWait = 5 * time.Second
)

// ninePConn is one connection to a p9.Server. The worker sends
// T-messages through in (never blocking: the in-flight bounds limit what
// queues there); the server's goroutines write R-messages to replies,
// which frames them and hands each to its request. Requests travel under
// the server-side tag = their slot number, so guest tags may repeat and
// every reply finds its chain; Tflush's oldtag is translated the same way.
type ninePConn struct {
	kick func()
	in   ninePStream
	// served is closed when the server's Handle has returned.
	served chan struct{}

	mu sync.Mutex
	// slots holds the requests in flight by server-side tag; inFlight
	// counts them and bytes adds up their cost.
	slots           [ninePMaxInFlight]*ninePRequest
	inFlight, bytes int
	// done are requests answered, for the worker to complete.
	done []*ninePRequest
	// limit is the largest T-message the server takes now: the msize it
	// agreed (or a smaller one in a Tversion still in flight).
	limit uint32
	// broken is set once the server is gone or out of step: requests
	// then fail with EIO until the device is reset.
	broken bool
	// sent records that the server saw a message; lastReply is when the
	// last reply arrived.
	sent      bool
	lastReply time.Time
}

// newNinePConn starts a server for attacher. kick wakes the worker.
func newNinePConn(attacher p9.Attacher, kick func()) *ninePConn {
	c := &ninePConn{kick: kick, served: make(chan struct{}), limit: NinePMaxMsize}
	c.in.cond.L = &c.in.mu
	go c.serve(attacher)
	return c
}

func (c *ninePConn) serve(attacher p9.Attacher) {
	defer close(c.served)
	defer func() {
		// p9's connState.stop waits on a WaitGroup that a request
		// goroutine it started just before may still Add to (a race in
		// the library at connection close); its panic is contained
		// here. shutdown waits for a quiet server to make it unlikely.
		recover()
		c.fail()
	}()
	p9.NewServer(attacher).Handle(&c.in, &ninePReplies{c: c})
}

// msgLimit is the largest T-message the server accepts.
func (c *ninePConn) msgLimit() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit
}

// room reports whether another request may go to the server (or, with a
// broken connection, be failed at once).
func (c *ninePConn) room() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken || c.inFlight == 0 {
		return true
	}
	return c.inFlight < ninePMaxInFlight && c.bytes+ninePMaxCost <= ninePInFlightBytes
}

// send passes msg (a whole checked T-message, modified in place) to the
// server for r. It returns false if the connection is broken.
func (c *ninePConn) send(r *ninePRequest, typ uint8, msg []byte) bool {
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return false
	}
	slot := 0
	for c.slots[slot] != nil {
		slot++ // room() found a free one
	}
	c.slots[slot] = r
	c.inFlight++
	c.bytes += r.cost
	c.sent = true
	binary.LittleEndian.PutUint16(msg[5:], uint16(slot))
	switch typ {
	case ninePTflush:
		// Tflush oldtag[2]: the slot of a request in flight with that
		// guest tag, or NOTAG (never in flight: answered at once).
		old := binary.LittleEndian.Uint16(msg[7:])
		server := uint16(ninePNoTag)
		for i, o := range c.slots {
			if o != nil && i != slot && o.guestTag == old {
				server = uint16(i)
				break
			}
		}
		binary.LittleEndian.PutUint16(msg[7:], server)
	case ninePTversion:
		// Tversion msize[4]: capped. The server applies it before it
		// answers, so a smaller one limits messages at once.
		m := min(binary.LittleEndian.Uint32(msg[7:]), NinePMaxMsize)
		binary.LittleEndian.PutUint32(msg[7:], m)
		if m >= ninePHeaderLen && m < c.limit {
			c.limit = m
		}
	}
	c.mu.Unlock()
	c.in.push(msg)
	return true
}

// reply takes one R-message from the server (nil if it was too large to
// keep: the request then fails with EMSGSIZE).
func (c *ninePConn) reply(tag uint16, typ uint8, msg []byte) {
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return
	}
	if int(tag) >= len(c.slots) || c.slots[tag] == nil {
		// Not a request in flight (NOTAG: the server could not decode
		// one): which chain it answers is unknown.
		c.mu.Unlock()
		c.fail()
		return
	}
	r := c.slots[tag]
	c.slots[tag] = nil
	c.inFlight--
	c.bytes -= r.cost
	c.lastReply = time.Now()
	if msg == nil {
		r.ecode = ninePEMSGSIZE
	} else {
		binary.LittleEndian.PutUint16(msg[5:], r.guestTag)
		r.reply = msg
		// Three answers of p9's server that a Linux guest cannot use.
		// A failed GetXattr is EINVAL, whatever the cause; an attribute
		// that is not there must be ENODATA: overlayfs looks up
		// trusted.overlay.* on every file of its lower layers and
		// fails the lookup on any other error (so a 9p lower layer
		// would not work), and getfattr and cp -a report it. A failed
		// ListXattrs is EINVAL too; it must be EOPNOTSUPP, which
		// overlayfs's copy-up and cp -a take as no attributes (any
		// other error fails the copy-up: the share's listing always
		// fails, see share/xattr.go). And an empty attribute list is
		// one NUL byte (Rxattrwalk size 1), an attribute named "" that
		// overlayfs's copy-up then fails to copy: it must be size 0.
		// A real list is at least 2 bytes.
		einval := typ == ninePRlerror && len(msg) == ninePRlerrorLen && binary.LittleEndian.Uint32(msg[7:]) == ninePEINVAL
		switch {
		case r.xattrGet && einval:
			binary.LittleEndian.PutUint32(msg[7:], ninePENODATA)
		case r.xattrList && einval:
			binary.LittleEndian.PutUint32(msg[7:], ninePEOPNOTSUPP)
		case r.xattrList && typ == ninePRxattrwalk && len(msg) == ninePHeaderLen+8 && binary.LittleEndian.Uint64(msg[7:]) == 1:
			binary.LittleEndian.PutUint64(msg[7:], 0)
		}
		if typ == ninePRversion && len(msg) >= ninePRlerrorLen {
			if m := binary.LittleEndian.Uint32(msg[7:]); m >= ninePHeaderLen {
				c.limit = min(m, NinePMaxMsize)
			}
		}
	}
	c.done = append(c.done, r)
	c.mu.Unlock()
	c.kick()
}

// fail breaks the connection: every request in flight fails with EIO.
func (c *ninePConn) fail() {
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return
	}
	c.broken = true
	for i, r := range c.slots {
		if r != nil {
			r.ecode = ninePEIO
			c.done = append(c.done, r)
			c.slots[i] = nil
		}
	}
	c.inFlight, c.bytes = 0, 0
	c.mu.Unlock()
	c.kick()
}

// takeDone returns the answered requests.
func (c *ninePConn) takeDone() []*ninePRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.done
	c.done = nil
	return d
}

// shutdown ends the connection: it waits (each step at most
// ninePStopWait) for the requests in flight, then for the server to be
// idle, closes its input and waits for it to close every fid.
func (c *ninePConn) shutdown() {
	wait := func(cond func() bool) {
		deadline := time.Now().Add(ninePStopWait)
		for !cond() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	wait(func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.inFlight == 0
	})
	wait(func() bool {
		c.mu.Lock()
		quiet := !c.sent || time.Since(c.lastReply) >= ninePQuiet
		c.mu.Unlock()
		return quiet && c.in.waiting() || c.stopped()
	})
	c.in.Close()
	select {
	case <-c.served:
	case <-time.After(ninePStopWait):
	}
	c.fail()
}

// stopped reports whether the server's Handle has returned.
func (c *ninePConn) stopped() bool {
	select {
	case <-c.served:
		return true
	default:
		return false
	}
}

// ninePStream is the server's input: whole T-messages, read as a byte
// stream. Push never blocks; Read blocks until there is data or Close.
type ninePStream struct {
	mu   sync.Mutex
	cond sync.Cond
	// msgs are queued messages, the first partly read.
	msgs   [][]byte
	closed bool
	// readers counts goroutines blocked in Read.
	readers int
}

func (s *ninePStream) push(msg []byte) {
	s.mu.Lock()
	s.msgs = append(s.msgs, msg)
	s.mu.Unlock()
	s.cond.Signal()
}

// Read implements io.Reader.
func (s *ninePStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.msgs) == 0 && !s.closed {
		s.readers++
		s.cond.Wait()
		s.readers--
	}
	if len(s.msgs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.msgs[0])
	if s.msgs[0] = s.msgs[0][n:]; len(s.msgs[0]) == 0 {
		s.msgs[0] = nil
		s.msgs = s.msgs[1:]
	}
	return n, nil
}

// waiting reports whether the server is blocked reading.
func (s *ninePStream) waiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readers > 0
}

// Close implements io.Closer: Read returns io.EOF once drained.
func (s *ninePStream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cond.Broadcast()
	return nil
}

// ninePReplies frames the server's output into R-messages. The server
// serializes its writes, one message at a time.
type ninePReplies struct {
	c *ninePConn
	// hdr collects a header; msg the message being read (nil while
	// discarding an oversized one); left the bytes still to come.
	hdr  [ninePHeaderLen]byte
	hdrN int
	msg  []byte
	left int
}

// Write implements io.Writer.
func (w *ninePReplies) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if w.hdrN < ninePHeaderLen {
			n := copy(w.hdr[w.hdrN:], p)
			w.hdrN += n
			p = p[n:]
			if w.hdrN < ninePHeaderLen {
				break
			}
			size := binary.LittleEndian.Uint32(w.hdr[:])
			if size < ninePHeaderLen {
				w.c.fail()
				return 0, io.EOF
			}
			w.left = int(size) - ninePHeaderLen
			w.msg = nil
			if size <= ninePMaxReply {
				w.msg = make([]byte, ninePHeaderLen, size)
				copy(w.msg, w.hdr[:])
			}
		}
		n := min(len(p), w.left)
		if w.msg != nil {
			w.msg = append(w.msg, p[:n]...)
		}
		w.left -= n
		p = p[n:]
		if w.left == 0 {
			w.hdrN = 0
			w.c.reply(binary.LittleEndian.Uint16(w.hdr[5:]), w.hdr[4], w.msg)
			w.msg = nil
		}
	}
	return total, nil
}

// Close implements io.Closer: the server is done.
func (w *ninePReplies) Close() error {
	w.c.fail()
	return nil
}
