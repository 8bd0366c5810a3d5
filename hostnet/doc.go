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
//   - spec.go: ParseSpec parses one -net value (user[,hostfwd=...][,mac=...]
//     or tap:NAME[,mac=...]); StableMAC derives a fixed, locally
//     administered MAC address from a seed.
//
// The virtio-net device in package devices/virtio uses a backend only
// through its FD, VnetHdr and Close methods, so hostnet does not import it.
package hostnet
