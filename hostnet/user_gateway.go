package hostnet

import (
	"errors"
	"fmt"
	"net"

	"github.com/containers/gvisor-tap-vsock/pkg/services/dhcp"
	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"github.com/containers/gvisor-tap-vsock/pkg/types"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// gatewayNIC is the netstack's one NIC, the gateway's port on the switch.
const gatewayNIC tcpip.NICID = 1

// newGateway builds the gateway: gvisor-tap-vsock's switch and link
// endpoint, a gVisor netstack with the gateway's address that accepts
// every destination (promiscuous, spoofing: it terminates the guest's TCP
// and UDP whatever their address), the NAT forwarders and the DHCP server.
//
// It is virtualnetwork.New taken apart: VirtualNetwork has no way to stop
// (its netstack, DNS and DHCP servers and forward listeners are
// unexported and run until the process exits, so a forwarded port would
// stay bound after Close), and its NAT forwarders cannot be closed either.
// Here User owns every piece and Close stops them all.
func (u *User) newGateway(guestMAC net.HardwareAddr) (*tap.Switch, error) {
	cfg := &types.Configuration{
		MTU:               UserMTU,
		Subnet:            Subnet,
		GatewayIP:         GatewayIP,
		GatewayMacAddress: GatewayMAC,
	}
	_, subnet, err := net.ParseCIDR(Subnet)
	if err != nil {
		return nil, err
	}
	pool := tap.NewIPPool(subnet)
	pool.Reserve(net.ParseIP(GatewayIP), GatewayMAC)
	pool.Reserve(net.ParseIP(GuestIP), guestMAC.String())

	// Debug off: with it the endpoint and switch log every packet.
	ep, err := tap.NewLinkEndpoint(false, UserMTU, GatewayMAC, GatewayIP, nil)
	if err != nil {
		return nil, err
	}
	sw := tap.NewSwitch(false)
	ep.Connect(sw)
	sw.Connect(ep)

	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{netipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	u.stack = s
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return nil, errors.New(err.String())
	}
	if err := s.CreateNIC(gatewayNIC, ep); err != nil {
		return nil, errors.New(err.String())
	}
	if err := s.AddProtocolAddress(gatewayNIC, tcpip.ProtocolAddress{
		Protocol:          netipv4.ProtocolNumber,
		AddressWithPrefix: gatewayAddr.WithPrefix(),
	}, stack.AddressProperties{}); err != nil {
		return nil, errors.New(err.String())
	}
	if err := s.SetSpoofing(gatewayNIC, true); err != nil {
		return nil, errors.New(err.String())
	}
	if err := s.SetPromiscuousMode(gatewayNIC, true); err != nil {
		return nil, errors.New(err.String())
	}
	sn, err := tcpip.NewSubnet(tcpip.AddrFrom4Slice(subnet.IP.To4()), tcpip.MaskFromBytes(subnet.Mask))
	if err != nil {
		return nil, err
	}
	s.SetRouteTable([]tcpip.Route{{Destination: sn, NIC: gatewayNIC}})

	// At most 64 guest SYNs wait for their host connect at once; more
	// are ignored until then (the guest retransmits).
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, 0, 64, u.forwardTCP).HandlePacket)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s, u.forwardUDP).HandlePacket)

	srv, err := dhcp.New(cfg, s, pool)
	if err != nil {
		return nil, fmt.Errorf("dhcp: %w", err)
	}
	u.dhcpClose = srv.Underlying.Close
	u.spawn(func() { _ = srv.Serve() })
	return sw, nil
}

// gatewayAddr is GatewayIP in the netstack's form.
var gatewayAddr = tcpip.AddrFrom4Slice(net.ParseIP(GatewayIP).To4())
