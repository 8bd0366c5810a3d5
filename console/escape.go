package console

// Escape sequences, as in QEMU's -nographic console: Ctrl-A is the prefix.
const (
	escapeChar = 0x01 // Ctrl-A
	quitChar   = 'x'  // Ctrl-A x: quit
)

// escaper finds console escape sequences in the host input stream. Its state
// carries across calls, so a sequence split between two reads is still seen.
//
//   - Ctrl-A x is a quit request and is not forwarded.
//   - Ctrl-A Ctrl-A forwards one literal Ctrl-A.
//   - Ctrl-A followed by any other byte forwards both bytes.
type escaper struct {
	// afterEscape is set when the last byte seen was a lone Ctrl-A whose
	// meaning depends on the next byte.
	afterEscape bool
}

// feed appends the bytes of p to forward to dst and returns the result. It
// stops right after a quit request, so that the caller can forward what came
// before the request, act on it, and then call feed again with p[n:]. n is
// the number of bytes of p consumed; quit reports a quit request.
func (e *escaper) feed(dst, p []byte) (out []byte, n int, quit bool) {
	for i, b := range p {
		if !e.afterEscape {
			if b == escapeChar {
				e.afterEscape = true
			} else {
				dst = append(dst, b)
			}
			continue
		}
		e.afterEscape = false
		switch b {
		case quitChar:
			return dst, i + 1, true
		case escapeChar:
			dst = append(dst, escapeChar)
		default:
			dst = append(dst, escapeChar, b)
		}
	}
	return dst, len(p), false
}
