package hostnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
)

// The kinds of network a Spec describes.
const (
	// KindUser is user-mode networking, run by a helper process (StartUser).
	KindUser = "user"
	// KindTap is an existing host TAP interface (OpenTap).
	KindTap = "tap"
)

// DefaultHostFwdAddr is the host address a hostfwd listens on when the
// value leaves it empty. QEMU listens on every address (0.0.0.0); govmm
// listens on loopback only, so a guest port is not exposed to the network
// unless asked for.
const DefaultHostFwdAddr = "127.0.0.1"

// Spec is one -net value.
type Spec struct {
	// Kind is KindUser or KindTap.
	Kind string
	// Tap is the interface name for KindTap.
	Tap string
	// MAC is the guest's MAC address; nil lets govmm derive a stable one
	// (StableMAC).
	MAC net.HardwareAddr
	// Forwards are the hostfwd rules, KindUser only, in the order given.
	Forwards []Forward
}

// Forward forwards TCP connections to a host address to a guest port.
type Forward struct {
	// HostAddr is the address to listen on, "IP:PORT" ("[IP]:PORT" for
	// IPv6), e.g. "127.0.0.1:8080".
	HostAddr string
	// GuestPort is the guest's TCP port the connections go to.
	GuestPort uint16
}

// ParseSpec parses a -net value:
//
//	user[,hostfwd=tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT]...[,mac=MAC]
//	tap:NAME[,mac=MAC]
//
// hostfwd follows QEMU's syntax, TCP only and without a guest address; an
// empty HOSTADDR means DefaultHostFwdAddr. MAC must be a unicast, non-zero
// 6-byte address. Errors are one line that quotes s and names the part at
// fault.
func ParseSpec(s string) (Spec, error) {
	sp, err := parseSpec(s)
	if err != nil {
		return Spec{}, fmt.Errorf("-net %q: %v", s, err)
	}
	return sp, nil
}

func parseSpec(s string) (Spec, error) {
	parts := strings.Split(s, ",")
	var sp Spec
	kind, tap, hasName := strings.Cut(parts[0], ":")
	switch {
	case kind == KindUser && !hasName:
		sp.Kind = KindUser
	case kind == KindTap:
		if tap == "" {
			return Spec{}, errors.New("tap: needs an interface name (tap:NAME)")
		}
		if err := validIfName(tap); err != nil {
			return Spec{}, fmt.Errorf("tap: %v", err)
		}
		sp.Kind, sp.Tap = KindTap, tap
	case kind == "":
		return Spec{}, errors.New("empty (want user or tap:NAME)")
	default:
		return Spec{}, fmt.Errorf("unknown network %q (want user or tap:NAME)", parts[0])
	}
	hosts := map[string]bool{}
	for _, opt := range parts[1:] {
		key, val, _ := strings.Cut(opt, "=")
		switch key {
		case "mac":
			if sp.MAC != nil {
				return Spec{}, errors.New("mac: given twice")
			}
			mac, err := parseMAC(val)
			if err != nil {
				return Spec{}, fmt.Errorf("mac: %v", err)
			}
			sp.MAC = mac
		case "hostfwd":
			if sp.Kind != KindUser {
				return Spec{}, errors.New("hostfwd: only with user networking")
			}
			fw, err := parseHostFwd(val)
			if err != nil {
				return Spec{}, fmt.Errorf("hostfwd: %v", err)
			}
			if hosts[fw.HostAddr] {
				return Spec{}, fmt.Errorf("hostfwd: %s forwarded twice", fw.HostAddr)
			}
			hosts[fw.HostAddr] = true
			sp.Forwards = append(sp.Forwards, fw)
		case "":
			return Spec{}, errors.New("empty option")
		default:
			return Spec{}, fmt.Errorf("unknown option %q (want hostfwd= or mac=)", opt)
		}
	}
	return sp, nil
}

// parseHostFwd parses QEMU's "tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"
// without GUESTADDR. As in QEMU, an empty protocol means tcp.
func parseHostFwd(v string) (Forward, error) {
	proto, rest, ok := strings.Cut(v, ":")
	if !ok {
		return Forward{}, fmt.Errorf("%q: want tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT", v)
	}
	if proto != "tcp" && proto != "" {
		return Forward{}, errors.New("only tcp is supported")
	}
	host, guest, ok := strings.Cut(rest, "-")
	if !ok {
		return Forward{}, fmt.Errorf("%q: want tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT", v)
	}
	haddr, hport, err := net.SplitHostPort(host)
	if err != nil {
		return Forward{}, fmt.Errorf("host part %q: want [HOSTADDR]:HOSTPORT", host)
	}
	if haddr == "" {
		haddr = DefaultHostFwdAddr
	}
	ip := net.ParseIP(haddr)
	if ip == nil {
		return Forward{}, fmt.Errorf("host address %q is not an IP address", haddr)
	}
	hp, err := parsePort(hport)
	if err != nil {
		return Forward{}, fmt.Errorf("host port: %v", err)
	}
	gaddr, gport, err := net.SplitHostPort(guest)
	if err != nil {
		return Forward{}, fmt.Errorf("guest part %q: want :GUESTPORT", guest)
	}
	if gaddr != "" {
		return Forward{}, fmt.Errorf("guest part %q: a guest address is not supported (want :GUESTPORT)", guest)
	}
	gp, err := parsePort(gport)
	if err != nil {
		return Forward{}, fmt.Errorf("guest port: %v", err)
	}
	return Forward{HostAddr: net.JoinHostPort(ip.String(), strconv.Itoa(int(hp))), GuestPort: gp}, nil
}

// parsePort parses a decimal TCP port, 1 to 65535.
func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q: want a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// parseMAC parses a 6-byte MAC address that a NIC may use as its own: not
// a group (multicast or broadcast) address and not all zeros.
func parseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("%q: want six hex octets, e.g. 02:00:00:00:00:01", s)
	}
	if mac[0]&0x01 != 0 {
		return nil, fmt.Errorf("%s is a multicast address (the first octet's low bit must be 0)", mac)
	}
	if string(mac) == "\x00\x00\x00\x00\x00\x00" {
		return nil, fmt.Errorf("%s is the all-zero address", mac)
	}
	return mac, nil
}

// StableMAC returns a MAC address derived from seed: the first six bytes of
// the big-endian 64-bit FNV-1a hash of seed, made a unicast (I/G bit 0) and
// locally administered (U/L bit 1) address. The same seed always gives the
// same address. FNV, not a cryptographic hash: the address needs no
// secrecy, and crypto/sha256 would link Go's FIPS entropy source, a 32 MiB
// array in the binary's BSS that a host with transparent huge pages backs
// with a 2 MiB page.
func StableMAC(seed string) net.HardwareAddr {
	h := fnv.New64a()
	h.Write([]byte(seed))
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h.Sum64())
	mac := net.HardwareAddr(sum[:6:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}
