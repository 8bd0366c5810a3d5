package virtio_test

import (
	"encoding/binary"
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
	"github.com/govmm/govmm/memory"
	"golang.org/x/sys/unix"
)

// FuzzNet drives virtio-net's transmit and receive paths with arbitrary
// chain shapes, guest headers, host frame sizes and features. The device
// must not panic or block; every frame the backend gets is one the guest
// built (header stripped, between an Ethernet header and the maximum
// size); every receive used element fits its chain and carries a header
// whose num_buffers counts the chains of its frame (§5.1.6.4).
func FuzzNet(f *testing.F) {
	// shape: (length/16, writable) pairs per buffer, 0xFF ends a chain.
	f.Add([]byte{1, 0, 4, 0, 0xFF, 100, 1, 0xFF, 2, 1, 3, 1}, []byte{60, 0, 200, 5}, uint8(3), []byte{0, 0, 0, 0})
	f.Add([]byte{0, 1, 0xFF, 1, 1, 0xFF}, []byte{14, 0}, uint8(1), []byte{1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{5, 1, 5, 1, 5, 1, 5, 1}, []byte{255, 255, 1, 0}, uint8(2), []byte{})
	f.Fuzz(func(t *testing.T, shape, hostFrames []byte, sel uint8, guestHdr []byte) {
		const memSize = 1 << 20
		mem := virtiotest.NewMemory(memSize)
		rxd, err := virtiotest.NewSplitQueue(mem, 0x1000, 16)
		if err != nil {
			t.Fatal(err)
		}
		txd, err := virtiotest.NewSplitQueue(mem, 0x3000, 16)
		if err != nil {
			t.Fatal(err)
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fds[1])
		n, err := virtio.NewNet(&pairBackend{fd: fds[0], hdr: sel&4 != 0}, virtio.NetConfig{MAC: testMAC, MaxFrame: 1514})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()

		// The same chains go on both queues: each queue sees them
		// with its own meaning. At most 16 descriptors in all, so
		// the fake driver never reuses one: chains sharing buffers
		// would let one frame overwrite another's header, which a
		// guest may do to itself but this check cannot tell apart.
		addr := memory.GuestAddress(0x10000)
		var bufs []virtiotest.Buffer
		chains, descs := 0, 0
		flush := func() {
			if len(bufs) > 0 && descs+len(bufs) <= 16 {
				rxd.AddChain(bufs...)
				txd.AddChain(bufs...)
				chains++
				descs += len(bufs)
			}
			bufs = bufs[:0]
		}
		for i := 0; i < len(shape); i++ {
			if shape[i] == 0xFF || len(bufs) == 8 {
				flush()
				continue
			}
			if i+1 >= len(shape) {
				break
			}
			l := uint32(shape[i]) * 16
			bufs = append(bufs, virtiotest.Buffer{Addr: addr, Len: l, Write: shape[i+1]&1 != 0})
			mem.Write(addr, guestHdr)
			addr += memory.GuestAddress(l) + 16
			i++
		}
		flush()

		// Host frames: (size/2 in 16-bit little endian) each.
		sent := 0
		for i := 0; i+1 < len(hostFrames) && sent < 8; i += 2 {
			size := int(binary.LittleEndian.Uint16(hostFrames[i:]))
			if sel&4 != 0 {
				size += netHdr
			}
			if unix.Sendto(fds[1], make([]byte, size), 0, nil) == nil {
				sent++
			}
		}

		var features uint64 = fVersion1
		if sel&1 != 0 {
			features |= fNetMrgRxBuf
		}
		if sel&2 != 0 {
			features |= fEventIdx
		}
		n.Activate(features)
		txq, err := virtio.NewQueue(mem, 16, txd.Desc, txd.Avail, txd.Used, features)
		if err != nil {
			t.Fatal(err)
		}
		rxq, err := virtio.NewQueue(mem, 16, rxd.Desc, rxd.Avail, rxd.Used, features)
		if err != nil {
			t.Fatal(err)
		}
		n.Handle(1, txq)
		buf := make([]byte, 1<<17)
		for {
			got, _, err := unix.Recvfrom(fds[1], buf, unix.MSG_DONTWAIT)
			if err != nil {
				break
			}
			min := 14
			if sel&4 != 0 {
				min += netHdr
			}
			if got < min || got > virtio.NetMaxFrame+netHdr {
				t.Fatalf("backend got a %d-byte frame", got)
			}
		}
		n.Handle(0, rxq)
		// Walk the receive used ring: each frame starts with a header
		// whose num_buffers counts the elements that follow.
		idx, _ := rxd.UsedIdx()
		if idx > uint16(chains) {
			t.Fatalf("%d used elements from %d chains", idx, chains)
		}
		for i := uint16(0); i < idx; {
			u, ok, err := rxd.PopUsed()
			if err != nil || !ok {
				t.Fatalf("used element %d: %v", i, err)
			}
			if u.Len < netHdr {
				t.Fatalf("used element %+v shorter than a header", u)
			}
			h := chainHead(mem, rxd.Desc, uint16(u.ID), netHdr)
			nb := binary.LittleEndian.Uint16(h[10:])
			if nb == 0 || nb > idx-i {
				t.Fatalf("num_buffers %d with %d used elements left", nb, idx-i)
			}
			for k := uint16(1); k < nb; k++ {
				rxd.PopUsed()
			}
			i += nb
		}
	})
}

// chainHead reads the first n device-writable bytes of the chain at head
// in a descriptor table at desc (virtio 1.2 §2.7.5), walking NEXT links.
func chainHead(mem *memory.Memory, desc memory.GuestAddress, head uint16, n int) []byte {
	var out []byte
	for hops := 0; len(out) < n && hops < 16; hops++ {
		var d [16]byte
		mem.Read(desc+memory.GuestAddress(16*uint64(head)), d[:])
		flags := binary.LittleEndian.Uint16(d[12:])
		if flags&2 != 0 { // VIRTQ_DESC_F_WRITE
			b := make([]byte, binary.LittleEndian.Uint32(d[8:]))
			mem.Read(memory.GuestAddress(binary.LittleEndian.Uint64(d[:])), b)
			out = append(out, b...)
		}
		if flags&1 == 0 { // VIRTQ_DESC_F_NEXT
			break
		}
		head = binary.LittleEndian.Uint16(d[14:])
	}
	for len(out) < n {
		out = append(out, 0)
	}
	return out[:n]
}
