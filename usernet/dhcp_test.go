package usernet

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/govmm/govmm/hostnet"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

// More of the DHCP server (dhcp.go) than TestUserDHCP covers: the
// answers RFC 2131 4.3.2 asks for a REQUEST that is not for the client's
// lease, that names another server, or that renews from the leased
// address.

const (
	dhcpNak       = 6
	optInterfaceM = 26 // interface MTU (RFC 2132 5.1)
)

// dhcpRenewFrame is a renewing client's REQUEST: unicast from
// GuestIP:68 to the gateway's MAC and GatewayIP:67, ciaddr GuestIP, no
// broadcast flag, no requested-address option (RFC 2131 4.3.2, RENEWING).
func dhcpRenewFrame(mac net.HardwareAddr, xid uint32) []byte {
	b := dhcpFrame(mac, xid, []byte{optMsgType, 1, dhcpRequest})
	gw, _ := net.ParseMAC(GatewayMAC)
	ip := b[ethHdrLen:]
	m := ip[20+8:]
	binary.BigEndian.PutUint16(m[10:], 0) // flags: unicast
	copy(m[12:16], ip4(GuestIP))          // ciaddr
	return ethFrame(gw, mac, etherTypeIPv4, ipv4Packet(protoUDP, ip4(GuestIP), ip4(GatewayIP), ip[20:]))
}

// TestUserDHCPRequestChecks: a REQUEST for an address that is not the
// client's lease gets a broadcast NAK; one naming another server as its
// server identifier gets no answer; the lease carries the link MTU.
func TestUserDHCPRequestChecks(t *testing.T) {
	u := newTestUser(t, Config{})

	wrong := []byte{optMsgType, 1, dhcpRequest, optRequestedIP, 4, 10, 0, 2, 99, optServerID, 4, 10, 0, 2, 2}
	sendFrame(t, u.FD(), dhcpFrame(testMAC, 0x100, wrong))
	nak := awaitDHCP(t, u.FD(), 0x100)
	if got := nak.opts[optMsgType]; len(got) != 1 || got[0] != dhcpNak {
		t.Errorf("REQUEST for 10.0.2.99: message type % x, want NAK (%d)", got, dhcpNak)
	}
	if !nak.yiaddr.Equal(ip4("0.0.0.0")) || nak.opts[optLeaseTime] != nil {
		t.Errorf("NAK leases %v for % x; want yiaddr 0.0.0.0 and no lease time", nak.yiaddr, nak.opts[optLeaseTime])
	}
	if !nak.ip.Dst.Equal(net.IPv4bcast) {
		t.Errorf("NAK sent to %v, want 255.255.255.255", nak.ip.Dst)
	}

	// Another server's offer taken: no answer. The DISCOVER after it
	// is answered, so the silence is not a dead server.
	other := []byte{optMsgType, 1, dhcpRequest, optRequestedIP, 4, 10, 0, 2, 15, optServerID, 4, 10, 0, 2, 3}
	sendFrame(t, u.FD(), dhcpFrame(testMAC, 0x200, other))
	sendFrame(t, u.FD(), dhcpFrame(testMAC, 0x201, []byte{optMsgType, 1, dhcpDiscover}))
	offer := awaitFrame(t, u.FD(), "a DHCP reply", func(f []byte) bool {
		ip, err := parseIPv4Frame(f)
		return err == nil && ip.Proto == protoUDP && len(ip.Payload) >= 8+240 && binary.BigEndian.Uint16(ip.Payload[2:]) == 68
	})
	if xid := binary.BigEndian.Uint32(offer[ethHdrLen+20+8+4:]); xid != 0x201 {
		t.Errorf("first DHCP reply is for xid %#x, want the DISCOVER's 0x201 (none for another server's REQUEST)", xid)
	}

	sendFrame(t, u.FD(), dhcpFrame(testMAC, 0x300, []byte{optMsgType, 1, dhcpDiscover}))
	o := awaitDHCP(t, u.FD(), 0x300)
	if got := o.opts[optInterfaceM]; len(got) != 2 || binary.BigEndian.Uint16(got) != hostnet.UserMTU {
		t.Errorf("interface MTU option % x, want %d", got, hostnet.UserMTU)
	}
}

// TestUserDHCPRenew: a client renewing its lease by unicast gets the ACK
// unicast to its address, after the gateway has asked by ARP where that
// address is.
func TestUserDHCPRenew(t *testing.T) {
	u := newTestUser(t, Config{})
	sendFrame(t, u.FD(), dhcpRenewFrame(testMAC, 0x400))
	f := awaitFrame(t, u.FD(), "an ARP request for 10.0.2.15", func(f []byte) bool {
		return binary.BigEndian.Uint16(f[12:]) == etherTypeARP && len(f) >= ethHdrLen+28 &&
			binary.BigEndian.Uint16(f[ethHdrLen+6:]) == 1 && net.IP(f[ethHdrLen+24:ethHdrLen+28]).Equal(ip4(GuestIP))
	})
	a := f[ethHdrLen:]
	reply := arpPacket(2, testMAC, ip4(GuestIP), net.HardwareAddr(a[8:14]), net.IP(a[14:18]))
	sendFrame(t, u.FD(), ethFrame(net.HardwareAddr(a[8:14]), testMAC, etherTypeARP, reply))
	ack := awaitDHCP(t, u.FD(), 0x400)
	if !ack.ip.Dst.Equal(ip4(GuestIP)) {
		t.Errorf("renewal ACK sent to %v, want %s", ack.ip.Dst, GuestIP)
	}
	if !ack.yiaddr.Equal(ip4(GuestIP)) {
		t.Errorf("renewal acked %v, want %s", ack.yiaddr, GuestIP)
	}
	if got := ack.opts[optMsgType]; len(got) != 1 || got[0] != dhcpAck {
		t.Errorf("message type % x, want ACK", got)
	}
	if got := ack.opts[optLeaseTime]; len(got) != 4 || binary.BigEndian.Uint32(got) == 0 {
		t.Errorf("lease time % x, want 4 bytes, non-zero", got)
	}
}

// FuzzUserDHCPReply: whatever a guest sends to port 67, the server does
// not panic, and any answer is a BOOTREPLY to the same transaction and
// client that is a NAK or leases an address of the subnet other than its
// network, gateway and broadcast addresses (GuestIP to testMAC).
func FuzzUserDHCPReply(f *testing.F) {
	for _, opts := range [][]byte{
		{optMsgType, 1, dhcpDiscover},
		{optMsgType, 1, dhcpRequest, optRequestedIP, 4, 10, 0, 2, 15},
		{optMsgType, 1, dhcpRequest, optRequestedIP, 4, 10, 0, 2, 99, optServerID, 4, 10, 0, 2, 2},
	} {
		f.Add(dhcpFrame(testMAC, 1, opts)[ethHdrLen+20+8:])
		f.Add(dhcpFrame(net.HardwareAddr{2, 0, 0, 0, 0, 9}, 2, opts)[ethHdrLen+20+8:])
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		d := &dhcpServer{guest: testMAC.String(), leases: map[string]netip.Addr{}, next: netip.AddrFrom4([4]byte{10, 0, 2, dhcpPoolFirst})}
		req, err := dhcpv4.FromBytes(msg)
		if err != nil || len(req.ClientHWAddr) != 6 {
			return
		}
		r := d.reply(req)
		if r == nil {
			return
		}
		back, err := dhcpv4.FromBytes(r.ToBytes())
		if err != nil {
			t.Fatalf("the reply does not parse: %v", err)
		}
		if back.OpCode != dhcpv4.OpcodeBootReply || back.TransactionID != req.TransactionID || back.ClientHWAddr.String() != req.ClientHWAddr.String() {
			t.Fatalf("reply %v", back.Summary())
		}
		if back.MessageType() == dhcpv4.MessageTypeNak {
			return
		}
		ip, _ := netip.AddrFromSlice(back.YourIPAddr.To4())
		if !subnetPrefix.Contains(ip) || ip == gatewayIP || ip.As4()[3] == 0 || ip.As4()[3] == 255 {
			t.Fatalf("leased %v", ip)
		}
		if req.ClientHWAddr.String() == testMAC.String() && ip.String() != GuestIP {
			t.Fatalf("leased %v to the guest, want %s", ip, GuestIP)
		}
		_ = replyAddr(req, r)
	})
}
