// Package usernet is the gateway of govmm's user-mode networking (-net
// user), in QEMU's slirp layout and without privilege. The guest gets
// 10.0.2.15 by DHCP (a static lease for its MAC, mask 255.255.255.0, router
// and DNS 10.0.2.2, one hour); the gateway at 10.0.2.2 (GatewayMAC)
// answers ARP, relays DNS to the host's servers, NATs the guest's TCP and
// UDP through ordinary host sockets (10.0.2.2:PORT is the host's
// 127.0.0.1:PORT; link-local, loopback and multicast destinations are
// refused) and serves the host port forwards into the guest.
//
// It runs in the helper process govmm-usernet (cmd/govmm-usernet), which
// govmm starts through hostnet.StartUser, so that govmm's own binary links
// none of it (gVisor and the DHCP library are some 3.3 MB of binary and
// 1.1 MiB of resident memory in every process that links them, -net or
// not: govmm -h) and govmm's seccomp filter needs no socket calls. Serve
// runs the gateway on a frame socket and forward listeners made by the
// caller; New makes them in-process (tests).
//
//   - usernet.go: the address plan, Serve, Close and the bookkeeping of
//     goroutines and connections; local.go: New and User.
//   - link.go: the gateway's NIC reads and writes its end of the frame
//     socket pair itself (SOCK_SEQPACKET, one bare Ethernet frame per
//     record), dropping runts and unicast frames for other MACs.
//   - gateway.go: the gVisor netstack (IPv4, ARP, TCP, UDP; promiscuous
//     and spoofing, so that it terminates every guest connection).
//   - dhcp.go: the DHCP server, messages coded by insomniacslk/dhcp's
//     dhcpv4.
//   - dns.go: the DNS relay to the host's servers, fixed at start.
//   - nat.go: guest to host TCP and UDP, through host sockets.
//   - hostfwd.go: host to guest TCP, from the forwards' listeners.
//
// It is not built on gvisor-tap-vsock, which it once was: that package's
// tap imports gopacket/layers, whose init fills some 8 MB of tables in
// every process that links it, and its switch hung on a 1 to 13-byte frame
// from the guest and disconnected it on an empty one; here such runts are
// dropped.
package usernet
