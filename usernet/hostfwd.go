package usernet

import (
	"context"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// Host to guest forwards: every connection accepted on a forward's
// Listener (bound by whoever called Serve, hostnet.ListenForward) is
// connected, from the gateway's netstack, to GuestIP's GuestPort and
// relayed.

var guestAddr = tcpip.AddrFrom4(netip.MustParseAddr(GuestIP).As4())

// accept serves ln until Close closes it.
func (g *Gateway) accept(ln net.Listener, port uint16) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !g.spawn(func() { g.toGuest(c, port) }) {
			c.Close()
			return
		}
	}
}

// toGuest connects to the guest's port and relays c there. If the guest
// does not accept, c is reset, as a refused connection would be.
func (g *Gateway) toGuest(c net.Conn, port uint16) {
	ctx, cancel := context.WithTimeout(g.ctx, hostDialTimeout)
	gc, err := gonet.DialContextTCP(ctx, g.stack, tcpip.FullAddress{NIC: gatewayNIC, Addr: guestAddr, Port: port}, netipv4.ProtocolNumber)
	cancel()
	if err != nil {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		return
	}
	g.relay(gc, c)
}
