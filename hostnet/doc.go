// Package hostnet is the host side of guest networking: the backends a
// virtio-net device sends its frames through, and the -net flag that
// chooses one.
//
//   - tap.go: OpenTap attaches to an existing, persistent TAP interface
//     (ip tuntap add dev NAME mode tap) in the calling thread's network
//     namespace. Each read on its non-blocking FD returns one frame and each
//     write sends one, both preceded by a 12-byte struct virtio_net_hdr_v1;
//     no offloads are enabled, so the kernel never hands over a GSO or
//     partially checksummed frame.
//   - user*.go: NewUser is user-mode networking in QEMU's slirp layout,
//     without privilege. The guest gets 10.0.2.15 by DHCP (a static lease
//     for its MAC, mask 255.255.255.0, router and DNS 10.0.2.2, one hour);
//     the gateway at 10.0.2.2 (GatewayMAC) answers ARP, relays DNS to the
//     host's servers, NATs the guest's TCP and UDP through ordinary host
//     sockets (10.0.2.2:PORT is the host's 127.0.0.1:PORT; link-local,
//     loopback and multicast destinations are refused) and serves the host
//     port forwards into the guest. The gateway is a gVisor netstack whose
//     NIC reads and writes our end of the frame socket pair itself
//     (user_link.go), with a DHCP server of its own (user_dhcp.go, messages
//     coded by insomniacslk/dhcp's dhcpv4). It is not built on
//     gvisor-tap-vsock, which it once was: that package's tap imports
//     gopacket/layers, whose init fills some 8 MB of tables in every govmm
//     process, -net or not (govmm -h: a 15.5 MB binary and 15.2 MB of
//     maximum RSS then, 12.2 MB and 6.9 MB now, 8.2 MB and 5.4 MB before
//     networking), and its switch hung on a 1 to 13-byte frame from the
//     guest and disconnected it on an empty one; here such runts are
//     dropped.
//   - spec.go: ParseSpec parses one -net value (user[,hostfwd=...][,mac=...]
//     or tap:NAME[,mac=...]); StableMAC derives a fixed, locally
//     administered MAC address from a seed.
//
// The virtio-net device in package devices/virtio uses a backend only
// through its FD, VnetHdr and Close methods, so hostnet does not import it.
package hostnet
