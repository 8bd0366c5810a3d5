package hostnet

import (
	"bytes"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
)

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseSpecValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
	}{
		{"user", Spec{Kind: KindUser}},
		{"user,hostfwd=tcp:127.0.0.1:2222-:22", Spec{Kind: KindUser,
			Forwards: []Forward{{HostAddr: "127.0.0.1:2222", GuestPort: 22}}}},
		{"user,hostfwd=tcp::2222-:22", Spec{Kind: KindUser,
			Forwards: []Forward{{HostAddr: "127.0.0.1:2222", GuestPort: 22}}}},
		// QEMU: an empty protocol is tcp.
		{"user,hostfwd=::8080-:80", Spec{Kind: KindUser,
			Forwards: []Forward{{HostAddr: "127.0.0.1:8080", GuestPort: 80}}}},
		{"user,hostfwd=tcp:0.0.0.0:65535-:1,hostfwd=tcp:[::1]:8080-:80,mac=02:00:00:00:00:01", Spec{Kind: KindUser,
			Forwards: []Forward{{HostAddr: "0.0.0.0:65535", GuestPort: 1}, {HostAddr: "[::1]:8080", GuestPort: 80}},
			MAC:      mustMAC(t, "02:00:00:00:00:01")}},
		// The same host port on two addresses is two listeners.
		{"user,hostfwd=tcp:127.0.0.1:22-:22,hostfwd=tcp:127.0.0.2:22-:22", Spec{Kind: KindUser,
			Forwards: []Forward{{HostAddr: "127.0.0.1:22", GuestPort: 22}, {HostAddr: "127.0.0.2:22", GuestPort: 22}}}},
		{"user,mac=52:54:00:12:34:56", Spec{Kind: KindUser, MAC: mustMAC(t, "52:54:00:12:34:56")}},
		{"tap:tap0", Spec{Kind: KindTap, Tap: "tap0"}},
		{"tap:0123456789abcde", Spec{Kind: KindTap, Tap: "0123456789abcde"}},
		{"tap:gtap0,mac=52-54-00-AB-CD-EF", Spec{Kind: KindTap, Tap: "gtap0", MAC: mustMAC(t, "52:54:00:ab:cd:ef")}},
	} {
		got, err := ParseSpec(tc.in)
		if err != nil {
			t.Errorf("ParseSpec(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseSpecInvalid(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `-net "": empty (want user or tap:NAME)`},
		{"bridge", `-net "bridge": unknown network "bridge" (want user or tap:NAME)`},
		{"user:x", `unknown network "user:x"`},
		{"tap", `-net "tap": tap: needs an interface name (tap:NAME)`},
		{"tap:", "tap: needs an interface name"},
		{"tap:0123456789abcdef", "tap: interface name longer than 15 bytes"},
		{"tap:a/b", "tap: interface name contains"},
		{"tap:a:b", "tap: interface name contains"},
		{"tap:..", "tap: invalid interface name"},
		{"tap:tap0,hostfwd=tcp::1-:2", `-net "tap:tap0,hostfwd=tcp::1-:2": hostfwd: only with user networking`},
		{"user,hostfwd=udp::1-:2", `-net "user,hostfwd=udp::1-:2": hostfwd: only tcp is supported`},
		{"user,hostfwd=tcp", `hostfwd: "tcp": want tcp:[HOSTADDR]:HOSTPORT-:GUESTPORT`},
		{"user,hostfwd=tcp::2222", `hostfwd: "tcp::2222": want`},
		{"user,hostfwd=tcp:2222-:22", `hostfwd: host part "2222": want [HOSTADDR]:HOSTPORT`},
		{"user,hostfwd=tcp:localhost:2222-:22", `hostfwd: host address "localhost" is not an IP address`},
		{"user,hostfwd=tcp::0-:22", `hostfwd: host port: "0": want a number from 1 to 65535`},
		{"user,hostfwd=tcp::65536-:22", `hostfwd: host port: "65536"`},
		{"user,hostfwd=tcp::x-:22", `hostfwd: host port: "x"`},
		{"user,hostfwd=tcp::22-", `hostfwd: guest part "": want :GUESTPORT`},
		{"user,hostfwd=tcp::22-10.0.2.15:22", `hostfwd: guest part "10.0.2.15:22": a guest address is not supported`},
		{"user,hostfwd=tcp::22-:0", `hostfwd: guest port: "0"`},
		{"user,hostfwd=tcp::22-:-1", `hostfwd: guest port: "-1"`},
		{"user,hostfwd=tcp::22-:1,hostfwd=tcp:127.0.0.1:22-:2", `hostfwd: 127.0.0.1:22 forwarded twice`},
		{"user,mac=01:00:5e:00:00:01", `-net "user,mac=01:00:5e:00:00:01": mac: 01:00:5e:00:00:01 is a multicast address`},
		{"user,mac=ff:ff:ff:ff:ff:ff", "mac: ff:ff:ff:ff:ff:ff is a multicast address"},
		{"user,mac=00:00:00:00:00:00", "mac: 00:00:00:00:00:00 is the all-zero address"},
		{"user,mac=02:00:00:00:00", `mac: "02:00:00:00:00": want six hex octets`},
		{"user,mac=02:00:00:00:00:00:00:01", `mac: "02:00:00:00:00:00:00:01": want six hex octets`},
		{"user,mac=", `mac: "": want six hex octets`},
		{"user,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", "mac: given twice"},
		{"user,,mac=02:00:00:00:00:01", `-net "user,,mac=02:00:00:00:00:01": empty option`},
		{"user,foo=1", `unknown option "foo=1" (want hostfwd= or mac=)`},
		{"user,hostfwd", `hostfwd: "": want`},
	} {
		_, err := ParseSpec(tc.in)
		if err == nil {
			t.Errorf("ParseSpec(%q): no error, want %q", tc.in, tc.want)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("ParseSpec(%q) = %q, want one line containing %q", tc.in, msg, tc.want)
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("-net %q: ", tc.in)) {
			t.Errorf("ParseSpec(%q) = %q: does not quote the value", tc.in, err)
		}
	}
}

// IEEE 802 address bits, in the first octet as transmitted: bit 0 is I/G
// (0 = individual, i.e. unicast), bit 1 is U/L (1 = locally administered).
const (
	igBit = 0x01
	ulBit = 0x02
)

func TestStableMAC(t *testing.T) {
	for _, tc := range []struct {
		seed string
		// The FNV-1a 64 test vectors of the FNV reference
		// (draft-eastlake-fnv, and Go's hash/fnv tests), with the
		// first octet fixed up by hand.
		want string
	}{
		{"", "ca:f2:9c:e4:84:22"},       // cbf29ce484222325 (the offset basis): cb -> ca
		{"a", "ae:63:dc:4c:86:01"},      // af63dc4c8601ec8c: af -> ae
		{"foobar", "86:94:41:71:f7:39"}, // 85944171f73967e8: 85 -> 86
	} {
		got := StableMAC(tc.seed)
		if got.String() != tc.want {
			t.Errorf("StableMAC(%q) = %s, want %s", tc.seed, got, tc.want)
		}
		if !bytes.Equal(StableMAC(tc.seed), got) {
			t.Errorf("StableMAC(%q) is not deterministic", tc.seed)
		}
	}
	seen := map[string]string{}
	for i := range 1000 {
		seed := "vm/" + string(rune('a'+i%26)) + "/" + strings.Repeat("x", i/26)
		mac := StableMAC(seed)
		if len(mac) != 6 {
			t.Fatalf("StableMAC(%q) = %v: %d bytes", seed, mac, len(mac))
		}
		if mac[0]&igBit != 0 {
			t.Errorf("StableMAC(%q) = %s: I/G bit set (group address)", seed, mac)
		}
		if mac[0]&ulBit == 0 {
			t.Errorf("StableMAC(%q) = %s: U/L bit clear (universal address)", seed, mac)
		}
		if prev, ok := seen[mac.String()]; ok {
			t.Errorf("StableMAC(%q) = StableMAC(%q) = %s", seed, prev, mac)
		}
		seen[mac.String()] = seed
		// A stable MAC is one -net mac= accepts.
		if _, err := ParseSpec("user,mac=" + mac.String()); err != nil {
			t.Errorf("ParseSpec rejects StableMAC(%q): %v", seed, err)
		}
	}
}
