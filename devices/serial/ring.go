package serial

// ring is a fixed-capacity byte queue. It never allocates after creation.
type ring struct {
	buf  []byte
	head int // index of the oldest byte
	n    int // number of bytes queued
}

func newRing(capacity int) ring { return ring{buf: make([]byte, capacity)} }

func (r *ring) len() int { return r.n }

func (r *ring) reset() { r.head, r.n = 0, 0 }

// push appends b and reports whether there was room for it.
func (r *ring) push(b byte) bool {
	if r.n == len(r.buf) {
		return false
	}
	r.buf[(r.head+r.n)%len(r.buf)] = b
	r.n++
	return true
}

// pop removes and returns the oldest byte; ok is false if r is empty.
func (r *ring) pop() (b byte, ok bool) {
	if r.n == 0 {
		return 0, false
	}
	b = r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return b, true
}
