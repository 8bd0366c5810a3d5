package hostnet

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// The guest's view of user-mode networking. It is QEMU's user networking
// (slirp) layout, so that guests and habits made for QEMU work unchanged:
//
//	10.0.2.0/24   the virtual subnet (Subnet)
//	10.0.2.2      the gateway: router, DHCP server, DNS server, and the
//	              host's loopback (GatewayIP, DNSIP, HostLoopbackIP)
//	10.0.2.15     the guest, a static DHCP lease for UserConfig.MAC (GuestIP)
//
// 10.0.2.2 is at once the gateway and an alias of the host's 127.0.0.1:
// a guest TCP connection or UDP flow to 10.0.2.2:PORT goes to the host's
// 127.0.0.1:PORT. That works on the gateway's own address because the
// gateway serves nothing on it but DHCP (UDP 67) and DNS (port 53): every
// other port falls through to the NAT forwarders. The cost is that the
// host's loopback port 53 is out of the guest's reach (10.0.2.2:53 is the
// DNS relay). QEMU puts DNS on 10.0.2.3; here the gateway is the DNS
// server too, so that one address serves everything.
//
// Any other destination outside the subnet is reached from the host with
// an ordinary socket, as the host user (outbound NAT, as in slirp), except
// link-local 169.254.0.0/16 (cloud metadata services), loopback, multicast
// and broadcast addresses, and other addresses in the subnet, which are
// refused.
const (
	// Subnet is the virtual network, in CIDR notation.
	Subnet = "10.0.2.0/24"
	// GatewayIP is the guest's default router and DHCP server.
	GatewayIP = "10.0.2.2"
	// DNSIP is the DNS server DHCP hands out: a relay to the host's.
	DNSIP = "10.0.2.2"
	// HostLoopbackIP is where the guest reaches the host's 127.0.0.1.
	HostLoopbackIP = "10.0.2.2"
	// GuestIP is the address DHCP gives to UserConfig.MAC.
	GuestIP = "10.0.2.15"
	// GatewayMAC is the gateway's Ethernet address (slirp's 52:55 prefix
	// and the gateway's IP).
	GatewayMAC = "52:55:0a:00:02:02"
	// UserMTU is the link MTU: IP packets up to 1500 bytes, frames up to
	// 1514 (no FCS, no VLAN tag).
	UserMTU = 1500
)

// userSocketBuffer is what NewUser asks for as SO_SNDBUF and SO_RCVBUF on
// both ends of the frame socket pair. Linux caps it at
// net.core.wmem_max and rmem_max (often 208 KiB) for an unprivileged
// process; the request is not an error either way.
const userSocketBuffer = 4 << 20

// UserConfig configures user-mode networking.
type UserConfig struct {
	// MAC is the guest's MAC address: it gets the static DHCP lease
	// GuestIP. Required.
	MAC net.HardwareAddr
	// Forwards are host to guest TCP port forwards: NewUser listens on
	// each HostAddr and connects each accepted connection to GuestIP's
	// GuestPort.
	Forwards []Forward
	// DNS are the host DNS servers the guest's queries to DNSIP are
	// relayed to, as "IP" (port 53) or "IP:PORT". Empty: the nameserver
	// lines of /etc/resolv.conf, read once by NewUser, or 127.0.0.1 if
	// it has none.
	DNS []string
}

// User is user-mode networking: a virtual Ethernet segment with a gateway
// that runs in govmm (a gVisor netstack attached to a socket pair),
// giving the guest DHCP, DNS, outbound TCP and UDP and host port forwards
// without any privilege. The guest side is FD.
type User struct {
	fd   int       // our end of the socket pair: the device's frames
	link *userLink // the other end, the gateway's NIC

	stack     *stack.Stack
	rxDone    chan struct{} // closed when link's receive loop has ended
	dhcp      *dhcpServer
	dns       *dnsRelay
	listeners []net.Listener

	ctx    context.Context
	cancel context.CancelFunc

	// mu guards closing and wg.Add, so that no goroutine starts once
	// Close waits for them.
	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup
	conns   map[io.Closer]struct{} // live relayed connections and UDP flows

	// sockets holds a token per host socket the guest has caused (NAT
	// connections and flows, DNS queries), at most maxHostSockets.
	sockets chan struct{}

	closeOnce sync.Once
}

// NewUser starts user-mode networking. Call it during set-up, before the
// sandbox is installed: it binds the Forwards' listeners and reads
// /etc/resolv.conf. A forward whose address is taken fails with one line
// that names it.
func NewUser(cfg UserConfig) (*User, error) {
	if len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0 {
		return nil, fmt.Errorf("user network: guest MAC %q is not a unicast Ethernet address", cfg.MAC)
	}
	upstream, err := dnsUpstream(cfg.DNS)
	if err != nil {
		return nil, fmt.Errorf("user network: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("user network: socketpair: %w", err)
	}
	for _, fd := range fds {
		// Best effort: the kernel caps the sizes (userSocketBuffer).
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, userSocketBuffer)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, userSocketBuffer)
	}
	pf := os.NewFile(uintptr(fds[1]), "govmm-user-net")
	pc, err := net.FileConn(pf) // a dup; pf's own descriptor is closed next
	pf.Close()
	if err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("user network: %w", err)
	}
	link, err := newUserLink(pc)
	if err != nil {
		pc.Close()
		unix.Close(fds[0])
		return nil, fmt.Errorf("user network: %w", err)
	}
	u := &User{fd: fds[0], link: link, conns: map[io.Closer]struct{}{}, sockets: make(chan struct{}, maxHostSockets)}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	if err := u.start(cfg, upstream); err != nil {
		u.Close()
		return nil, fmt.Errorf("user network: %w", err)
	}
	return u, nil
}

// start builds the gateway and its services, then starts moving frames.
func (u *User) start(cfg UserConfig, upstream []string) error {
	if err := u.newGateway(u.link); err != nil {
		return err
	}
	var err error
	if u.dhcp, err = newDHCPServer(u.stack, cfg.MAC); err != nil {
		return fmt.Errorf("dhcp: %w", err)
	}
	if u.dns, err = newDNSRelay(u, upstream); err != nil {
		return err
	}
	for _, fw := range cfg.Forwards {
		if err := u.listen(fw); err != nil {
			return err
		}
	}
	u.spawn(u.dhcp.serve)
	u.spawn(u.dns.serve)
	u.spawn(func() { u.link.txLoop(u.ctx) })
	u.rxDone = make(chan struct{})
	if !u.spawn(func() { defer close(u.rxDone); u.link.rxLoop() }) {
		close(u.rxDone)
	}
	return nil
}

// FD is the guest side of the network: a non-blocking socket on which each
// read returns one Ethernet frame and each write sends one, with no
// virtio_net_hdr. Stop using it before Close: the number may be reused.
func (u *User) FD() int { return u.fd }

// VnetHdr reports false: frames on FD are bare Ethernet frames.
func (u *User) VnetHdr() bool { return false }

// Close stops the network: it closes the forwards' listeners, every relayed
// connection and UDP flow, the DHCP server, the DNS relay and the netstack,
// waits for their goroutines and closes both ends of the socket pair (the
// device's end is shut down first, so a reader blocked on FD wakes to end
// of file). A second call does nothing.
func (u *User) Close() error {
	u.closeOnce.Do(func() {
		u.mu.Lock()
		u.closing = true
		conns := u.conns
		u.conns = nil
		u.mu.Unlock()
		u.cancel()
		for _, ln := range u.listeners {
			ln.Close()
		}
		// End of file for the device; closing the link's socket ends its
		// receive and transmit loops.
		_ = unix.Shutdown(u.fd, unix.SHUT_RDWR)
		u.link.close()
		for c := range conns {
			c.Close()
		}
		if u.dns != nil {
			u.dns.close()
		}
		if u.dhcp != nil {
			u.dhcp.close()
		}
		if u.rxDone != nil {
			// The receive loop hands frames to the NIC Destroy removes.
			<-u.rxDone
		}
		if u.stack != nil {
			u.stack.Destroy()
		}
		u.wg.Wait()
		unix.Close(u.fd)
	})
	return nil
}

// enter counts the calling goroutine as one that Close waits for, until it
// calls u.wg.Done; it reports false, and counts nothing, once Close has
// begun.
func (u *User) enter() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closing {
		return false
	}
	u.wg.Add(1)
	return true
}

// spawn runs f on a goroutine that Close waits for; it reports false, and
// runs nothing, once Close has begun.
func (u *User) spawn(f func()) bool {
	if !u.enter() {
		return false
	}
	go func() {
		defer u.wg.Done()
		f()
	}()
	return true
}

// track registers c for Close to close; it reports false, and closes c,
// once Close has begun.
func (u *User) track(c io.Closer) bool {
	u.mu.Lock()
	if u.closing {
		u.mu.Unlock()
		c.Close()
		return false
	}
	u.conns[c] = struct{}{}
	u.mu.Unlock()
	return true
}

// untrack forgets c (closed by its owner).
func (u *User) untrack(c io.Closer) {
	u.mu.Lock()
	delete(u.conns, c)
	u.mu.Unlock()
}
