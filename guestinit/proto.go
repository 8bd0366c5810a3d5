package guestinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The exec channel is the guest's virtio console (hvc0) in raw mode: a
// byte stream each way, cut into frames
//
//	type (1 byte) | payload length (4 bytes, little endian) | payload
//
// with at most MaxPayload bytes of payload. Raw mode keeps every byte as
// it is (no echo, no CR/LF translation, no signals on ^C), and a frame
// says which stream its bytes belong to, so that stdout stays byte-exact
// and apart from stderr, and stdin can end (FrameStdinEOF) without closing
// the console.
const (
	// FrameReady (guest to host): the guest init runs and its console is
	// raw; the payload is ProtocolVersion. The host sends nothing before.
	FrameReady byte = 1 + iota
	// FrameStdin (host to guest): bytes for the command's stdin.
	FrameStdin
	// FrameStdinEOF (host to guest, empty): the host's stdin ended.
	FrameStdinEOF
	// FrameStdout and FrameStderr (guest to host): the command's output.
	FrameStdout
	FrameStderr
	// FrameExit (guest to host): the command's exit status, 4 bytes,
	// little endian: its exit code, or 128+N when signal N killed it.
	FrameExit
	// FrameError (guest to host): why the command could not run (a
	// mount failed, the working directory is not there); the host exits
	// 1 with this message.
	FrameError
)

// ProtocolVersion is FrameReady's payload.
const ProtocolVersion = "govmm-exec/1"

// HeaderLen is the size of a frame header; MaxPayload bounds a payload, so
// that a hostile or broken peer cannot make the other side allocate much.
const (
	HeaderLen  = 5
	MaxPayload = 64 << 10
)

// Frame is one decoded frame.
type Frame struct {
	Type    byte
	Payload []byte
}

// ErrFrame is wrapped by every decoding error.
var ErrFrame = errors.New("bad frame")

// AppendFrame appends the encoding of a frame to b. It panics on a
// payload longer than MaxPayload: senders cut their data first.
func AppendFrame(b []byte, typ byte, payload []byte) []byte {
	if len(payload) > MaxPayload {
		panic("guestinit: frame payload too long")
	}
	b = append(b, typ, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[len(b)-4:], uint32(len(payload)))
	return append(b, payload...)
}

// ExitPayload encodes an exit status for FrameExit.
func ExitPayload(code int) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(int32(code)))
}

// ExitCode decodes FrameExit's payload.
func ExitCode(payload []byte) (int, error) {
	if len(payload) != 4 {
		return 0, fmt.Errorf("%w: exit status of %d bytes, want 4", ErrFrame, len(payload))
	}
	return int(int32(binary.LittleEndian.Uint32(payload))), nil
}

// check reports whether typ may come from the guest (fromGuest) or from
// the host, and checks the fixed payload sizes.
func check(typ byte, n uint32, fromGuest bool) error {
	if n > MaxPayload {
		return fmt.Errorf("%w: type %d with %d bytes of payload (at most %d)", ErrFrame, typ, n, MaxPayload)
	}
	switch typ {
	case FrameReady, FrameStdout, FrameStderr, FrameError:
		if fromGuest {
			return nil
		}
	case FrameExit:
		if fromGuest {
			if n != 4 {
				return fmt.Errorf("%w: exit status of %d bytes, want 4", ErrFrame, n)
			}
			return nil
		}
	case FrameStdin:
		if !fromGuest {
			return nil
		}
	case FrameStdinEOF:
		if !fromGuest {
			if n != 0 {
				return fmt.Errorf("%w: stdin EOF with %d bytes of payload", ErrFrame, n)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: unknown frame type %d", ErrFrame, typ)
}

// Decoder turns the guest's byte stream into frames, as it arrives in
// pieces of any size (an io.Writer: the virtio console writes to it). It
// accepts only frames a guest may send. After an error it accepts nothing
// more: the stream has lost its framing.
type Decoder struct {
	// OnFrame receives each frame; its payload is valid only during
	// the call.
	OnFrame func(Frame)

	buf []byte
	err error
}

// Write implements io.Writer. It returns an error (and n < len(p)) once
// the stream is broken; a partial frame is kept for the next Write.
func (d *Decoder) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	d.buf = append(d.buf, p...)
	for len(d.buf) >= HeaderLen {
		typ, n := d.buf[0], binary.LittleEndian.Uint32(d.buf[1:HeaderLen])
		if err := check(typ, n, true); err != nil {
			d.err, d.buf = err, nil
			return 0, err
		}
		if uint32(len(d.buf)-HeaderLen) < n {
			break
		}
		end := HeaderLen + int(n)
		if d.OnFrame != nil {
			d.OnFrame(Frame{Type: typ, Payload: d.buf[HeaderLen:end]})
		}
		d.buf = d.buf[end:]
	}
	// Keep the partial frame at the start of a small buffer.
	if len(d.buf) == 0 {
		d.buf = nil
	} else if cap(d.buf) > 2*MaxPayload {
		d.buf = append([]byte(nil), d.buf...)
	}
	return len(p), nil
}

// Err is the error that broke the stream, or nil.
func (d *Decoder) Err() error { return d.err }

// Pending reports whether a partial frame is waiting for more bytes.
func (d *Decoder) Pending() bool { return len(d.buf) > 0 }

// ReadFrame reads one frame the host may send (the guest's side). It
// returns io.EOF at a clean end and io.ErrUnexpectedEOF inside a frame.
func ReadFrame(r io.Reader) (Frame, error) {
	var hdr [HeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, err
	}
	typ, n := hdr[0], binary.LittleEndian.Uint32(hdr[1:])
	if err := check(typ, n, false); err != nil {
		return Frame{}, err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return Frame{Type: typ, Payload: p}, nil
}
