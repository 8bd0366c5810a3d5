package usernet

import (
	"fmt"
	"sync"

	"github.com/govmm/govmm/hostnet"
	"golang.org/x/sys/unix"
)

// User is a Gateway served in this process, with the guest's side of its
// frame socket pair at hand: FD. It is what govmm-usernet runs, made
// in-process for tests and for programs that do not mind linking the
// gateway; govmm itself starts the helper instead (hostnet.StartUser).
type User struct {
	*Gateway
	fd   int // the guest's end of the socket pair
	once sync.Once
}

// New starts user-mode networking in this process: it makes the frame
// socket pair, binds the forwards' host addresses and serves the gateway
// on them (Serve). A forward whose address is taken fails with one line
// that names it, as hostnet.ListenForward words it.
func New(cfg Config, forwards ...hostnet.Forward) (*User, error) {
	dev, frames, err := hostnet.NewFramePair()
	if err != nil {
		return nil, fmt.Errorf("user network: %w", err)
	}
	var lns []Listener
	for _, fw := range forwards {
		ln, err := hostnet.ListenForward(fw)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			frames.Close()
			unix.Close(dev)
			return nil, fmt.Errorf("user network: %w", err)
		}
		lns = append(lns, Listener{Listener: ln, GuestPort: fw.GuestPort})
	}
	g, err := Serve(frames, cfg, lns)
	if err != nil {
		unix.Close(dev)
		return nil, fmt.Errorf("user network: %w", err)
	}
	return &User{Gateway: g, fd: dev}, nil
}

// FD is the guest side of the network: a non-blocking socket on which each
// read returns one Ethernet frame and each write sends one, with no
// virtio_net_hdr. Stop using it before Close: the number may be reused.
func (u *User) FD() int { return u.fd }

// VnetHdr reports false: frames on FD are bare Ethernet frames.
func (u *User) VnetHdr() bool { return false }

// Close stops the gateway (Gateway.Close) and closes FD. FD is shut down
// first, so that a reader blocked on it wakes to end of file. A second call
// does nothing.
func (u *User) Close() error {
	u.once.Do(func() {
		_ = unix.Shutdown(u.fd, unix.SHUT_RDWR)
		u.Gateway.Close()
		unix.Close(u.fd)
	})
	return nil
}
