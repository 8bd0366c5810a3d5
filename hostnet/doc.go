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
//   - user*.go: StartUser is user-mode networking in QEMU's slirp layout,
//     without privilege, run in a helper process as QEMU runs passt or
//     slirp4netns: it binds the host port forwards (ListenForward, so that
//     a taken port is a one-line error naming the forward), makes the
//     frame socket pair (NewFramePair: SOCK_SEQPACKET, one bare Ethernet
//     frame per record) and starts govmm-usernet (cmd/govmm-usernet) with
//     the gateway's end and the listeners, found through $GOVMM_USERNET,
//     beside the running program or in $PATH (userhelper.go). The gateway
//     itself, a gVisor netstack with DHCP, a DNS relay, NAT and the
//     forwards, is package usernet; govmm does not link it, which keeps
//     gVisor and the DHCP library out of its binary (12.2 MB and 6.6 MB
//     of maximum RSS for govmm -h with them, 8.9 MB and 5.5 MB without)
//     and socket, connect and accept4 out of its seccomp filter: the
//     helper installs its own (sandbox.UserNet). The helper exits at end
//     of file on the socket, when govmm closes it or dies; when the helper
//     dies, the device reads end of file and takes the link down.
//   - spec.go: ParseSpec parses one -net value (user[,hostfwd=...][,mac=...]
//     or tap:NAME[,mac=...]); StableMAC derives a fixed, locally
//     administered MAC address from a seed.
//
// The virtio-net device in package devices/virtio uses a backend only
// through its FD, VnetHdr and Close methods, so hostnet does not import it.
package hostnet
