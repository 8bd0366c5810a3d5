package sandbox

// UserNet are the further calls the user-mode network's helper,
// govmm-usernet (cmd/govmm-usernet, package usernet), makes once it
// serves: it installs Allowed plus UserNet as its own filter. Its gateway
// turns the guest's TCP connections and UDP flows into host sockets
// (outbound NAT, 10.0.2.2 to the host's loopback, the DNS relay) and
// accepts connections on the host port forwards. Everything else is set up
// before its filter: govmm makes the frame socket pair and binds the
// forwards' listening sockets (bind, listen) and hands them over, and the
// helper reads the DNS servers from /etc/resolv.conf once. So files stay
// closed to it (no openat), and so do exec, processes and, as the helper
// has no /dev/kvm, every KVM request.
//
// govmm itself does not get these calls: since the gateway moved to the
// helper, -net user adds nothing to govmm's filter (its virtio-net device
// only reads and writes the frame socket, with recvmsg and writev, which
// Allowed has).
//
// What it does open up, in the helper: a compromised helper can connect to
// any address the host user can reach, over TCP or UDP, and accept on the
// forwards' sockets. The guest can do the first through the NAT anyway.
var UserNet = []Rule{
	// New sockets for the host side of each guest connection or flow,
	// and for each relayed DNS query.
	{Name: "socket", Why: "user net: a host TCP or UDP socket per guest connection, UDP flow or DNS query"},
	{Name: "connect", Why: "user net: connecting that socket to the destination (NAT) or DNS server"},
	{Name: "getsockopt", Why: "user net: SO_ERROR after a non-blocking connect (Go's net.Dial)"},
	{Name: "setsockopt", Why: "user net: Go's socket defaults: SO_BROADCAST on UDP, TCP_NODELAY and keep-alive on TCP"},
	{Name: "getsockname", Why: "user net: Go's net package records a new socket's local address"},
	{Name: "getpeername", Why: "user net: Go's net package records a connected socket's remote address"},

	// Host port forwards: listening sockets are made at set-up.
	{Name: "accept4", Why: "user net: accepting connections on the host port forwards' listeners"},

	// Relaying: data itself moves with read and write (in Allowed).
	{Name: "shutdown", Why: "user net: passing a half-close on (CloseWrite)"},
}
