package hostnet

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The parts of user-mode networking that govmm itself makes: the frame
// socket pair between the virtio-net device and the gateway, and the
// forwards' listening sockets. The gateway (package usernet) runs in the
// helper process StartUser starts, or in-process (usernet.New).

// UserMTU is the user network's link MTU: IP packets up to 1500 bytes,
// frames up to 1514 (no FCS, no VLAN tag).
const UserMTU = 1500

// userSocketBuffer is what NewFramePair asks for as SO_SNDBUF and
// SO_RCVBUF on both ends of the frame socket pair. Linux caps it at
// net.core.wmem_max and rmem_max (often 208 KiB) for an unprivileged
// process; the request is not an error either way.
const userSocketBuffer = 4 << 20

// NewFramePair makes the user network's frame socket pair: AF_UNIX,
// SOCK_SEQPACKET (one Ethernet frame per record, no virtio_net_hdr),
// non-blocking and close-on-exec, with large buffers. device is the
// virtio-net device's end, gateway the gateway's.
func NewFramePair() (device int, gateway *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("socketpair: %w", err)
	}
	for _, fd := range fds {
		// Best effort: the kernel caps the sizes (userSocketBuffer).
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, userSocketBuffer)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, userSocketBuffer)
	}
	return fds[0], os.NewFile(uintptr(fds[1]), "govmm-usernet frames"), nil
}

// ListenForward binds fw's host address and listens on it. The error is
// one line that names the forward, e.g. "forward 127.0.0.1:2222 to guest
// port 22: bind: address already in use".
func ListenForward(fw Forward) (*net.TCPListener, error) {
	ln, err := net.Listen("tcp", fw.HostAddr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err // "bind: address already in use"
		}
		return nil, fmt.Errorf("forward %s to guest port %d: %w", fw.HostAddr, fw.GuestPort, err)
	}
	return ln.(*net.TCPListener), nil
}
