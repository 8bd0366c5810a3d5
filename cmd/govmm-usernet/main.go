// Command govmm-usernet is govmm's user-mode network (-net user), run as a
// helper process the way QEMU runs passt or slirp4netns: the gateway of
// package usernet (a gVisor netstack with DHCP, a DNS relay, NAT through
// host sockets and the host port forwards) lives here, so that govmm
// neither links it nor needs socket calls under its own seccomp filter.
// govmm starts it (hostnet.StartUser); it is not meant to be run by hand.
//
//	govmm-usernet -mac MAC [-forwards PORT,...] [-dns ADDR,...] [-sandbox=off]
//
// Descriptor 3 is the gateway's end of the frame socket pair (AF_UNIX,
// SOCK_SEQPACKET, one bare Ethernet frame per record); descriptors 4, 5,
// ... are the forwards' listening TCP sockets, bound by govmm, one per
// -forwards port, in that order. It builds the gateway, reading
// /etc/resolv.conf unless -dns is given, confines itself with the seccomp
// filter of package sandbox plus sandbox.UserNet, and writes "ready" on a
// line to stdout; on failure it writes the reason on one line instead and
// exits 1. It then serves until end of file on the frame socket (govmm
// closed its end, or exited), and exits 0. It needs no privilege.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/govmm/govmm/hostnet"
	"github.com/govmm/govmm/sandbox"
	"github.com/govmm/govmm/usernet"
	"golang.org/x/sys/unix"
)

// closeGrace bounds the clean shutdown at end of file; the process exits
// after it either way.
const closeGrace = 5 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command; stdout gets the one status line.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s: %v\n", hostnet.UserHelper, err)
		return 1
	}
	g, err := serve(opts)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	if opts.sandbox {
		if err := confine(); err != nil {
			g.Close()
			fmt.Fprintf(stdout, "%s: %v\n", hostnet.UserHelper, err)
			return 1
		}
	}
	fmt.Fprintln(stdout, hostnet.UserHelperReady)
	<-g.Done()
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(closeGrace):
	}
	return 0
}

// options are the parsed command line.
type options struct {
	mac     net.HardwareAddr
	ports   []uint16
	dns     []string
	sandbox bool
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet(hostnet.UserHelper, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mac := fs.String("mac", "", "the guest's MAC address: it gets the DHCP lease 10.0.2.15")
	forwards := fs.String("forwards", "", "guest ports of the forwards whose listening sockets are descriptors 4, 5, ..., comma-separated")
	dns := fs.String("dns", "", "host DNS servers, IP or IP:PORT, comma-separated (default: /etc/resolv.conf)")
	sb := fs.String("sandbox", "on", "seccomp filter once serving: on or off")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintf(stderr, "usage: %s -mac MAC [-forwards PORT,...] [-dns ADDR,...] [-sandbox=off]\n(started by govmm -net user; see package hostnet)\n", hostnet.UserHelper)
			fs.PrintDefaults()
		}
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var o options
	var err error
	if o.mac, err = net.ParseMAC(*mac); err != nil || len(o.mac) != 6 {
		return options{}, fmt.Errorf("-mac %q: want six hex octets", *mac)
	}
	if *forwards != "" {
		for _, p := range strings.Split(*forwards, ",") {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return options{}, fmt.Errorf("-forwards %q: %q is not a port from 1 to 65535", *forwards, p)
			}
			o.ports = append(o.ports, uint16(n))
		}
	}
	if *dns != "" {
		o.dns = strings.Split(*dns, ",")
	}
	switch *sb {
	case "on":
		o.sandbox = true
	case "off":
	default:
		return options{}, fmt.Errorf("-sandbox %q: want on or off", *sb)
	}
	return o, nil
}

// serve takes descriptor 3 and the listeners after it and starts the
// gateway on them. Errors are one line.
func serve(o options) (*usernet.Gateway, error) {
	const fd = hostnet.UserHelperFramesFD
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("%s: descriptor %d is not a SOCK_SEQPACKET socket (govmm -net user starts this helper with its frame socket there)", hostnet.UserHelper, fd)
	}
	frames := os.NewFile(fd, "frames")
	var lns []usernet.Listener
	for i, port := range o.ports {
		f := os.NewFile(uintptr(fd+1+i), "forward")
		ln, err := net.FileListener(f) // a dup
		f.Close()
		if err != nil {
			frames.Close()
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("%s: descriptor %d (the forward to guest port %d): %v", hostnet.UserHelper, fd+1+i, port, err)
		}
		lns = append(lns, usernet.Listener{Listener: ln, GuestPort: port})
	}
	g, err := usernet.Serve(frames, usernet.Config{MAC: o.mac, DNS: o.dns}, lns)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// confine installs the seccomp filter with the gateway's socket calls. It
// refuses a build with cgo, whose threads come from glibc's
// pthread_create, which the filter can kill at random (internal/nocgo).
func confine() error {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "CGO_ENABLED" && s.Value == "1" {
				return errors.New("built with cgo, which its seccomp filter does not allow: rebuild it with CGO_ENABLED=0 (make build does)")
			}
		}
	}
	return sandbox.InstallWith(sandbox.UserNet...)
}
