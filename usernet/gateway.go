package usernet

import (
	"errors"
	"net"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// gatewayNIC is the netstack's one NIC, on the frame socket (link.go).
const gatewayNIC tcpip.NICID = 1

// newGateway builds the gateway: a gVisor netstack whose NIC is link,
// with the gateway's address, that accepts every destination
// (promiscuous, spoofing: it terminates the guest's TCP and UDP whatever
// their address) and hands what it does not serve itself to the NAT
// forwarders (nat.go). ARP for GatewayIP comes with the stack.
//
// It has no ICMP transport: the IPv4 layer answers echo requests itself,
// and the transport would only serve ICMP sockets, which the gateway
// never opens (leaving it out keeps 77 KB out of the binary).
func (g *Gateway) newGateway(link *userLink) error {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{netipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	g.stack = s
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return errors.New(err.String())
	}
	if err := s.CreateNIC(gatewayNIC, link.ep); err != nil {
		return errors.New(err.String())
	}
	if err := s.AddProtocolAddress(gatewayNIC, tcpip.ProtocolAddress{
		Protocol:          netipv4.ProtocolNumber,
		AddressWithPrefix: gatewayAddr.WithPrefix(),
	}, stack.AddressProperties{}); err != nil {
		return errors.New(err.String())
	}
	if err := s.SetSpoofing(gatewayNIC, true); err != nil {
		return errors.New(err.String())
	}
	if err := s.SetPromiscuousMode(gatewayNIC, true); err != nil {
		return errors.New(err.String())
	}
	sn, err := tcpip.NewSubnet(tcpip.AddrFrom4(subnetPrefix.Addr().As4()), tcpip.MaskFromBytes(net.CIDRMask(subnetPrefix.Bits(), 32)))
	if err != nil {
		return err
	}
	s.SetRouteTable([]tcpip.Route{{Destination: sn, NIC: gatewayNIC}})

	// At most 64 guest SYNs wait for their host connect at once; more
	// are ignored until then (the guest retransmits).
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, 0, 64, g.forwardTCP).HandlePacket)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s, g.forwardUDP).HandlePacket)
	return nil
}

// gatewayAddr is GatewayIP in the netstack's form.
var gatewayAddr = tcpip.AddrFrom4(gatewayIP.As4())
