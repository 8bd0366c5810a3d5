package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// SinkResult is what TCPSink received on one connection.
type SinkResult struct {
	Bytes       uint64
	First, Last time.Time // when the first and the last byte arrived (zero: none)
	Peer        string    // the sender's address
}

// MiBps is the throughput from the first byte's arrival to the last's, in
// MiB/s (0 when fewer than two reads brought data).
func (r SinkResult) MiBps() float64 {
	d := r.Last.Sub(r.First).Seconds()
	if r.Bytes == 0 || !(d > 0) {
		return 0
	}
	return float64(r.Bytes) / (1 << 20) / d
}

// sinkBuf is the size of TCPSink's reads: large, so that the receiver is
// never what limits the rate.
const sinkBuf = 1 << 20

// TCPSink accepts one connection on l, reads it to EOF, counting the bytes
// and stamping the first and the last, then closes it. It gives up when
// ctx ends (closing the connection, not the listener), and when the
// connection brings nothing for idle (0: no limit); an error also comes
// with what had arrived by then.
func TCPSink(ctx context.Context, l net.Listener, idle time.Duration) (SinkResult, error) {
	var r SinkResult
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.Accept()
		ch <- accepted{c, err}
	}()
	var a accepted
	select {
	case a = <-ch:
	case <-ctx.Done():
		// Unblock Accept without closing the listener: a deadline in the
		// past makes it return at once.
		if d, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
			d.SetDeadline(time.Unix(1, 0))
			a = <-ch
			d.SetDeadline(time.Time{})
			if a.c != nil {
				a.c.Close()
			}
		}
		return r, fmt.Errorf("no connection: %w", ctx.Err())
	}
	if a.err != nil {
		return r, fmt.Errorf("accept: %w", a.err)
	}
	c := a.c
	defer c.Close()
	r.Peer = c.RemoteAddr().String()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, sinkBuf)
	for {
		if ctx.Err() != nil {
			return r, fmt.Errorf("after %d bytes: %w", r.Bytes, ctx.Err())
		}
		if idle > 0 {
			c.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := c.Read(buf)
		if n > 0 {
			now := time.Now()
			if r.Bytes == 0 {
				r.First = now
			}
			r.Last = now
			r.Bytes += uint64(n)
		}
		if errors.Is(err, io.EOF) {
			return r, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("nothing for %v", idle)
			}
			return r, fmt.Errorf("after %d bytes: %w", r.Bytes, err)
		}
	}
}
