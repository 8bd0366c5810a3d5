package bench

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestTCPSink(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 3<<20 + 17
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return
		}
		c.Write(make([]byte, n))
		c.Close()
	}()
	r, err := TCPSink(context.Background(), l, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Bytes != n || r.First.IsZero() || r.Last.Before(r.First) || r.Peer == "" {
		t.Fatalf("got %+v", r)
	}

	// Nobody connects: the context ends the wait, and the listener still
	// works afterwards.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := TCPSink(ctx, l, 0); err == nil {
		t.Fatal("no error without a connection")
	}
	go func() {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	if r, err := TCPSink(context.Background(), l, 0); err != nil || r.Bytes != 1 {
		t.Fatalf("after a timeout: %+v %v", r, err)
	}

	// A sender that stalls: the context ends the read, and what came is
	// reported.
	go func() {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Write([]byte("abc"))
			time.Sleep(2 * time.Second)
			c.Close()
		}
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if r, err := TCPSink(ctx2, l, 0); err == nil || r.Bytes != 3 {
		t.Fatalf("stalled sender: %+v %v", r, err)
	}
}

// TestTCPSinkIdle: a sender that stalls longer than idle ends the read.
func TestTCPSinkIdle(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Write([]byte("ab"))
			<-done
			c.Close()
		}
	}()
	start := time.Now()
	r, err := TCPSink(context.Background(), l, 200*time.Millisecond)
	if err == nil || r.Bytes != 2 || !strings.Contains(err.Error(), "nothing for 200ms") {
		t.Fatalf("stalled sender: %+v %v", r, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

func TestSinkResultMiBps(t *testing.T) {
	t0 := time.Unix(100, 0)
	r := SinkResult{Bytes: 64 << 20, First: t0, Last: t0.Add(2 * time.Second)}
	if v := r.MiBps(); v != 32 {
		t.Fatalf("%v MiB/s, want 32", v)
	}
	if v := (SinkResult{Bytes: 5, First: t0, Last: t0}).MiBps(); v != 0 {
		t.Fatalf("one read: %v, want 0", v)
	}
}
