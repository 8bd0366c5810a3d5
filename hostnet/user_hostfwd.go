package hostnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// Host to guest forwards: NewUser listens on each Forward's HostAddr, and
// every connection accepted there is connected, from the gateway's
// netstack, to GuestIP's GuestPort and relayed.

var guestAddr = tcpip.AddrFrom4(netip.MustParseAddr(GuestIP).As4())

// listen binds fw's host address and starts accepting. The error names
// the address.
func (u *User) listen(fw Forward) error {
	ln, err := net.Listen("tcp", fw.HostAddr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err // "bind: address already in use"
		}
		return fmt.Errorf("forward %s to guest port %d: %w", fw.HostAddr, fw.GuestPort, err)
	}
	u.listeners = append(u.listeners, ln)
	u.spawn(func() { u.accept(ln, fw.GuestPort) })
	return nil
}

// accept serves ln until Close closes it.
func (u *User) accept(ln net.Listener, port uint16) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !u.spawn(func() { u.toGuest(c, port) }) {
			c.Close()
			return
		}
	}
}

// toGuest connects to the guest's port and relays c there. If the guest
// does not accept, c is reset, as a refused connection would be.
func (u *User) toGuest(c net.Conn, port uint16) {
	ctx, cancel := context.WithTimeout(u.ctx, hostDialTimeout)
	g, err := gonet.DialContextTCP(ctx, u.stack, tcpip.FullAddress{NIC: gatewayNIC, Addr: guestAddr, Port: port}, netipv4.ProtocolNumber)
	cancel()
	if err != nil {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		return
	}
	u.relay(g, c)
}
