// Package console connects the host terminal to a guest serial port: it
// copies host input to the guest and handles the QEMU-style Ctrl-A escape.
// Guest output needs no help: the UART writes it straight to os.Stdout.
package console

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

const (
	// readSize is the size of one read from the host input.
	readSize = 4096
	// retryDelay is how long to wait before offering the guest again
	// bytes it did not accept because its input buffer was full.
	retryDelay = time.Millisecond
	// maxEmptyReads bounds consecutive (0, nil) reads, which a well-behaved
	// reader never returns, so that a broken one cannot make us spin.
	maxEmptyReads = 100
)

// Start copies bytes from in to sink until EOF or an error, in its own
// goroutine.
//
// If in is a terminal it is put in raw mode (golang.org/x/term) so that every
// key, including Ctrl-C, goes to the guest; the returned restore func puts it
// back. restore also stops the copying: the goroutine checks for it before
// every sink or onQuit call and while waiting to retry, so at most a call
// already under way completes after restore. (A Read already blocked on in
// stays blocked until input or EOF arrives; then the goroutine exits without
// forwarding it.) restore is safe to call more than once, from any goroutine,
// including from onQuit. At process exit the goroutine can simply be
// abandoned.
//
// Ctrl-A x (0x01 then 'x') calls onQuit (if not nil) instead of being
// forwarded, as in QEMU; Ctrl-A Ctrl-A sends one literal 0x01; Ctrl-A followed
// by anything else forwards both bytes. onQuit runs on the copying goroutine
// after everything typed before it has been delivered.
//
// sink returns how many bytes it accepted; the rest are offered again every
// millisecond until accepted or restore is called. EOF on a pipe or /dev/null
// just ends the goroutine.
func Start(in *os.File, sink func([]byte) int, onQuit func()) (restore func(), err error) {
	restore, _, err = start(in, sink, onQuit)
	return restore, err
}

// start is Start that also returns a channel closed when the goroutine ends.
func start(in *os.File, sink func([]byte) int, onQuit func()) (restore func(), finished <-chan struct{}, err error) {
	if in == nil || sink == nil {
		return nil, nil, errors.New("console: nil input file or sink")
	}
	// SyscallConn, unlike Fd, leaves a pollable file non-blocking.
	rc, err := in.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var fd int
	var old *term.State
	var rawErr error
	if err := rc.Control(func(f uintptr) {
		fd = int(f)
		if term.IsTerminal(fd) {
			old, rawErr = term.MakeRaw(fd)
		}
	}); err != nil {
		return nil, nil, err
	}
	if rawErr != nil {
		return nil, nil, rawErr
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	restore = func() {
		once.Do(func() {
			close(stop)
			if old != nil {
				_ = term.Restore(fd, old)
			}
		})
	}
	go func() {
		defer close(done)
		copyInput(in, sink, onQuit, stop)
	}()
	return restore, done, nil
}

// copyInput is the body of the input goroutine.
func copyInput(in io.Reader, sink func([]byte) int, onQuit func(), stop <-chan struct{}) {
	buf := make([]byte, readSize)
	fwd := make([]byte, 0, readSize+1)
	var esc escaper
	empty := 0
	for !stopped(stop) {
		n, err := in.Read(buf)
		if stopped(stop) {
			return
		}
		for p := buf[:n]; len(p) > 0; {
			out, used, quit := esc.feed(fwd[:0], p)
			p = p[used:]
			if !deliver(out, sink, stop) {
				return
			}
			if quit && onQuit != nil && !stopped(stop) {
				onQuit()
			}
		}
		if err != nil {
			return // io.EOF or a real error: nothing more will come
		}
		if n == 0 {
			if empty++; empty >= maxEmptyReads {
				return
			}
		} else {
			empty = 0
		}
	}
}

// deliver offers p to sink until all of it is accepted, waiting retryDelay
// between attempts that leave bytes over. It returns false if stop closed
// first.
func deliver(p []byte, sink func([]byte) int, stop <-chan struct{}) bool {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for len(p) > 0 {
		if stopped(stop) {
			return false
		}
		n := min(max(sink(p), 0), len(p))
		p = p[n:]
		if len(p) == 0 {
			break
		}
		if t == nil {
			t = time.NewTimer(retryDelay)
		} else {
			t.Reset(retryDelay)
		}
		select {
		case <-stop:
			return false
		case <-t.C:
		}
	}
	return true
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}
