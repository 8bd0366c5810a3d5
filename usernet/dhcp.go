package usernet

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/govmm/govmm/hostnet"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	netipv4 "gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// The gateway's DHCP server (RFC 2131, options RFC 2132) on GatewayIP,
// UDP port 67. Config.MAC always gets GuestIP; any other MAC gets the
// first free address from dhcpPoolFirst up and keeps it. Every lease
// names GatewayIP as router and DNS server (DNSIP) and lasts dhcpLease.

const (
	dhcpServerPort = 67
	dhcpClientPort = 68
	// dhcpLease is the lease time handed out; a guest renews after half.
	dhcpLease = time.Hour
	// dhcpPoolFirst and dhcpPoolLast bound the addresses for other MACs.
	dhcpPoolFirst = 16
	dhcpPoolLast  = 254
)

// dhcpServer answers DISCOVER with OFFER and REQUEST with ACK, or NAK for
// an address that is not the client's lease.
type dhcpServer struct {
	conn   *gonet.UDPConn
	guest  string                // Config.MAC, as net.HardwareAddr.String
	leases map[string]netip.Addr // other MACs' addresses
	next   netip.Addr            // the lowest pool address not yet given out
}

// newDHCPServer binds UDP port 67 on the gateway's NIC, for broadcasts
// as well as GatewayIP, and allowed to broadcast its answers.
func newDHCPServer(s *stack.Stack, guestMAC net.HardwareAddr) (*dhcpServer, error) {
	var wq waiter.Queue
	ep, terr := s.NewEndpoint(udp.ProtocolNumber, netipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, errors.New(terr.String())
	}
	ep.SocketOptions().SetBroadcast(true)
	if terr := ep.Bind(tcpip.FullAddress{NIC: gatewayNIC, Port: dhcpServerPort}); terr != nil {
		ep.Close()
		return nil, errors.New(terr.String())
	}
	return &dhcpServer{
		conn:   gonet.NewUDPConn(&wq, ep),
		guest:  guestMAC.String(),
		leases: map[string]netip.Addr{},
		next:   netip.AddrFrom4([4]byte{10, 0, 2, dhcpPoolFirst}),
	}, nil
}

// serve answers requests until close.
func (d *dhcpServer) serve() {
	buf := make([]byte, 65536)
	for {
		n, _, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		req, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || req.OpCode != dhcpv4.OpcodeBootRequest || req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
			continue
		}
		if r := d.reply(req); r != nil {
			_, _ = d.conn.WriteTo(r.ToBytes(), replyAddr(req, r))
		}
	}
}

// reply is the answer to req, or nil for none.
func (d *dhcpServer) reply(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	ip, ok := d.lease(req.ClientHWAddr.String())
	if !ok {
		return nil // the pool is used up
	}
	r := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientHWAddr:  req.ClientHWAddr,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr,
		Options:       dhcpv4.Options{},
	}
	r.UpdateOption(dhcpv4.OptServerIdentifier(net.IP(gatewayIP.AsSlice())))
	// RFC 6842: a client identifier is echoed.
	if id := req.Options.Get(dhcpv4.OptionClientIdentifier); id != nil {
		r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientIdentifier, id))
	}
	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		r.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeOffer))
	case dhcpv4.MessageTypeRequest:
		if sid := req.ServerIdentifier(); sid != nil && !sid.Equal(net.IP(gatewayIP.AsSlice())) {
			return nil // the client took another server's offer
		}
		want := req.RequestedIPAddress()
		if want == nil {
			want = req.ClientIPAddr // renewing or rebinding (RFC 2131 4.3.2)
		}
		if !want.Equal(net.IP(ip.AsSlice())) {
			r.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeNak))
			return r
		}
		r.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeAck))
		r.ClientIPAddr = req.ClientIPAddr
	default:
		return nil // RELEASE, DECLINE, INFORM: the lease stays as it is
	}
	r.YourIPAddr = net.IP(ip.AsSlice())
	r.UpdateOption(dhcpv4.OptIPAddressLeaseTime(dhcpLease))
	r.UpdateOption(dhcpv4.OptSubnetMask(net.CIDRMask(subnetPrefix.Bits(), 32)))
	r.UpdateOption(dhcpv4.OptRouter(net.IP(gatewayIP.AsSlice())))
	r.UpdateOption(dhcpv4.OptDNS(net.ParseIP(DNSIP).To4()))
	r.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionInterfaceMTU, []byte{hostnet.UserMTU >> 8, hostnet.UserMTU & 0xff}))
	return r
}

// lease is mac's address: GuestIP for the configured guest, else a pool
// address, given on first sight; false when the pool is used up.
func (d *dhcpServer) lease(mac string) (netip.Addr, bool) {
	if mac == d.guest {
		return netip.MustParseAddr(GuestIP), true
	}
	if ip, ok := d.leases[mac]; ok {
		return ip, true
	}
	if d.next.As4()[3] > dhcpPoolLast {
		return netip.Addr{}, false
	}
	ip := d.next
	d.leases[mac] = ip
	d.next = ip.Next()
	return ip, true
}

// replyAddr is where r goes (RFC 2131 4.1): to the client's address when
// it already has the one r leases (renewing), else broadcast, since a
// client without an address cannot answer the gateway's ARP request (a NAK
// is always broadcast). The addresses are in 4-byte form: gonet takes a
// 16-byte one for IPv6.
func replyAddr(req, r *dhcpv4.DHCPv4) net.Addr {
	if ci := req.ClientIPAddr.To4(); ci != nil && !ci.IsUnspecified() && ci.Equal(r.YourIPAddr) {
		return &net.UDPAddr{IP: ci, Port: dhcpClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast.To4(), Port: dhcpClientPort}
}

// close stops serve.
func (d *dhcpServer) close() { d.conn.Close() }
