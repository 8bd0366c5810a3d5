package sandbox

// UserNet are the further calls user-mode networking (package hostnet,
// User) makes while the guest runs: its gateway turns the guest's TCP
// connections and UDP flows into host sockets (outbound NAT, 10.0.2.2 to
// the host's loopback, the DNS relay) and accepts connections on the host
// port forwards. Everything it needs beyond that is set up before Install:
// the frame socket pair, the forwards' listening sockets (bind, listen)
// and the DNS servers, read from /etc/resolv.conf once. So files stay
// closed to govmm (no openat), and so do exec, processes and new VMs.
//
// What it does open up: a compromised govmm can connect to any address the
// host user can reach, over TCP or UDP, and accept on the forwards'
// sockets. The guest can do the first through the NAT anyway.
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
	{Name: "shutdown", Why: "user net: passing a half-close on (CloseWrite), and Close's shutdown of the frame socket"},
}
