package hostnet

import (
	"testing"

	"github.com/govmm/govmm/internal/frametest"
)

// The frame builders and checkers of internal/frametest, under the names
// the tap and launcher tests use, and the tap's framing: a virtio-net
// header before each frame (writeFrame, waitFrame).
const (
	etherTypeIPv4 = frametest.EtherTypeIPv4
	etherTypeARP  = frametest.EtherTypeARP
	ethHdrLen     = frametest.EthHdrLen
	protoICMP     = frametest.ProtoICMP
	protoUDP      = frametest.ProtoUDP
)

var (
	broadcastMAC   = frametest.BroadcastMAC
	inetChecksum   = frametest.InetChecksum
	ethFrame       = frametest.EthFrame
	arpPacket      = frametest.ARPPacket
	ipv4Packet     = frametest.IPv4Packet
	icmpEchoMsg    = frametest.ICMPEchoMsg
	parseIPv4Frame = frametest.ParseIPv4Frame
	udpChecksumOK  = frametest.UDPChecksumOK
	readFrame      = frametest.ReadFrame
	sendFrame      = frametest.SendFrame
)

// waitFrame reads messages from a tap fd until one whose frame match
// accepts, for at most 5 seconds, and returns it split into its virtio-net
// header and its frame. It logs the frames it skips.
func waitFrame(t *testing.T, fd int, what string, match func(frame []byte) bool) (hdr, frame []byte) {
	t.Helper()
	msg := frametest.WaitMessage(t, fd, VnetHdrLen, what, match)
	return msg[:VnetHdrLen], msg[VnetHdrLen:]
}

// awaitFrame reads bare frames from the user network's fd until match
// accepts one, for at most 5 seconds. It logs the frames it skips.
func awaitFrame(t *testing.T, fd int, what string, match func(frame []byte) bool) []byte {
	t.Helper()
	return frametest.WaitMessage(t, fd, 0, what, match)
}

// writeFrame writes one frame to a tap fd after a zero virtio-net header
// (no checksum to complete, no GSO).
func writeFrame(t *testing.T, fd int, frame []byte) {
	t.Helper()
	sendFrame(t, fd, append(make([]byte, VnetHdrLen), frame...))
}
