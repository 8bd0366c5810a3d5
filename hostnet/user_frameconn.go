package hostnet

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// frameConn is the switch's end of the frame socket pair. It drops frames
// too short to hold an Ethernet header before the switch sees them:
// gvisor-tap-vsock's switch reads the header without a length check and
// would panic, and the guest chooses its frames' lengths. That includes
// empty frames, which a net.Conn would report as end of file and so
// disconnect the guest; here only a hang-up (Close) is end of file.
type frameConn struct {
	net.Conn
	raw syscall.RawConn
}

// newFrameConn wraps c, a *net.UnixConn.
func newFrameConn(c net.Conn) (*frameConn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, unix.ENOTSOCK
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &frameConn{Conn: c, raw: raw}, nil
}

// Read returns the next frame of at least header.EthernetMinimumSize
// bytes.
func (c *frameConn) Read(b []byte) (int, error) {
	for {
		var n int
		var err error
		rerr := c.raw.Read(func(fd uintptr) bool {
			n, err = unix.Read(int(fd), b)
			if err == nil && n == 0 && hungUp(int(fd)) {
				err = io.EOF
			}
			return err != unix.EAGAIN
		})
		switch {
		case rerr != nil:
			return 0, rerr
		case err != nil:
			return 0, err
		case n >= header.EthernetMinimumSize:
			return n, nil
		}
	}
}

// hungUp reports whether the other end of the socket fd has shut down or
// closed.
func hungUp(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
	n, _ := unix.Poll(pfd, 0)
	return n > 0 && pfd[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0
}
