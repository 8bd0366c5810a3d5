package usernet

import (
	"testing"

	"github.com/govmm/govmm/internal/frametest"
)

// The frame builders and checkers of internal/frametest, under the names
// the gateway's tests use; frames on the user network's socket are bare
// (no virtio-net header).
const (
	etherTypeIPv4 = frametest.EtherTypeIPv4
	etherTypeARP  = frametest.EtherTypeARP
	ethHdrLen     = frametest.EthHdrLen
	ipHdrLen      = frametest.IPHdrLen
	protoICMP     = frametest.ProtoICMP
	protoUDP      = frametest.ProtoUDP
)

var (
	broadcastMAC   = frametest.BroadcastMAC
	inetChecksum   = frametest.InetChecksum
	ethFrame       = frametest.EthFrame
	arpPacket      = frametest.ARPPacket
	ipv4Packet     = frametest.IPv4Packet
	parseIPv4Frame = frametest.ParseIPv4Frame
	udpChecksumOK  = frametest.UDPChecksumOK
	readFrame      = frametest.ReadFrame
	sendFrame      = frametest.SendFrame
)

// awaitFrame reads bare frames from the user network's fd until match
// accepts one, for at most 5 seconds, and returns it. It logs the frames it
// skips; one too short for an Ethernet header fails the test.
func awaitFrame(t *testing.T, fd int, what string, match func(frame []byte) bool) []byte {
	t.Helper()
	return frametest.WaitMessage(t, fd, 0, what, match)
}
