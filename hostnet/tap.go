package hostnet

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// VnetHdrLen is the size of the header that precedes every frame on a Tap's
// FD: a struct virtio_net_hdr_v1 (flags, gso_type, hdr_len, gso_size,
// csum_start, csum_offset, num_buffers; virtio 1.x, 5.1.6), little-endian.
//
// On reads, the kernel fills the first 10 bytes; whether it zeroes
// num_buffers (the last 2) depends on its version, so a device must set
// num_buffers itself. On writes, the kernel reads and ignores num_buffers.
const VnetHdrLen = 12

// tunPath is the TUN/TAP clone device.
const tunPath = "/dev/net/tun"

// Tap is an open, existing TAP interface. Its FD is non-blocking; each read
// returns one Ethernet frame and each write sends one, both preceded by
// VnetHdrLen bytes of struct virtio_net_hdr_v1.
type Tap struct {
	name string
	mtu  int
	fd   atomic.Int64 // -1 once closed
}

// OpenTap attaches to the existing TAP interface name in the calling
// thread's network namespace. It never creates one: a name that does not
// exist is an error that says how to create it. The interface must not be
// open in another process (a single-queue tap has one user).
func OpenTap(name string) (*Tap, error) {
	if err := validIfName(name); err != nil {
		return nil, fmt.Errorf("tap %q: %v", name, err)
	}
	mtu, err := ifaceMTU(name)
	if err != nil {
		return nil, tapError(name, err)
	}
	fd, err := unix.Open(tunPath, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("tap %q: %s: %w (load the tun module: modprobe tun)", name, tunPath, err)
		}
		return nil, fmt.Errorf("tap %q: %s: %w", name, tunPath, err)
	}
	if err := attachTap(fd, name); err != nil {
		unix.Close(fd)
		return nil, err
	}
	t := &Tap{name: name, mtu: mtu}
	t.fd.Store(int64(fd))
	return t, nil
}

// attachTap binds fd to the existing tap name and sets the frame format: no
// packet-information prefix, a 12-byte little-endian virtio-net header, no
// offloads.
func attachTap(fd int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("tap %q: %v", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return tapError(name, err)
	}
	// ifaceMTU saw the interface, but it may have gone since, and then
	// TUNSETIFF created a new one. Such a tap is not persistent (an existing
	// tap nobody has open always is): closing fd removes it again.
	got, err := unix.NewIfreq("")
	if err != nil {
		return fmt.Errorf("tap %q: %v", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.TUNGETIFF, got); err != nil {
		return fmt.Errorf("tap %q: TUNGETIFF: %w", name, err)
	}
	if got.Uint16()&unix.IFF_PERSIST == 0 {
		return tapError(name, unix.ENODEV)
	}
	for _, s := range []struct {
		what      string
		req       uint
		value     int
		byPointer bool
	}{
		{"TUNSETVNETHDRSZ", unix.TUNSETVNETHDRSZ, VnetHdrLen, true},
		{"TUNSETVNETLE", unix.TUNSETVNETLE, 1, true},
		{"TUNSETOFFLOAD", unix.TUNSETOFFLOAD, 0, false},
	} {
		set := unix.IoctlSetInt
		if s.byPointer {
			set = unix.IoctlSetPointerInt
		}
		if err := set(fd, s.req, s.value); err != nil {
			return fmt.Errorf("tap %q: %s: %w", name, s.what, err)
		}
	}
	return nil
}

// ifaceMTU returns the MTU of interface name in the calling thread's network
// namespace (SIOCGIFMTU), which also proves that the interface exists.
func ifaceMTU(name string) (int, error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, err
	}
	return int(int32(ifr.Uint32())), nil
}

// tapError turns an errno from looking up or attaching to a tap into one
// line that names the tap, the cause and, where there is one, the fix.
func tapError(name string, err error) error {
	var hint string
	switch {
	case errors.Is(err, unix.ENODEV):
		hint = fmt.Sprintf("create it first: ip tuntap add dev %s mode tap", name)
	case errors.Is(err, unix.EBUSY):
		hint = "another process has it open"
	case errors.Is(err, unix.EINVAL):
		hint = "not a tap interface, or a multi-queue one"
	case errors.Is(err, unix.EPERM):
		hint = fmt.Sprintf("it belongs to another user: ip tuntap add dev %s mode tap user USER", name)
	}
	if hint == "" {
		return fmt.Errorf("tap %q: %w", name, err)
	}
	return fmt.Errorf("tap %q: %w (%s)", name, err, hint)
}

// validIfName applies the kernel's rules for an interface name
// (dev_valid_name): 1 to IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or
// white space.
func validIfName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) > unix.IFNAMSIZ-1:
		return fmt.Errorf("interface name longer than %d bytes", unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return errors.New("invalid interface name")
	case strings.ContainsAny(name, "/:\x00 \t\n\v\f\r"):
		return errors.New("interface name contains '/', ':', NUL or white space")
	}
	return nil
}

// FD returns the tap's non-blocking file descriptor, or -1 after Close.
// Each read returns one frame and each write sends one, both preceded by
// VnetHdrLen bytes of struct virtio_net_hdr_v1.
func (t *Tap) FD() int { return int(t.fd.Load()) }

// VnetHdr reports that every frame on FD is preceded by a 12-byte struct
// virtio_net_hdr_v1: always true for a Tap.
func (t *Tap) VnetHdr() bool { return true }

// Name returns the tap's interface name.
func (t *Tap) Name() string { return t.name }

// MTU returns the tap's MTU as it was when OpenTap ran.
func (t *Tap) MTU() int { return t.mtu }

// Close detaches from the tap; the persistent interface stays. It is safe to
// call more than once; calls after the first do nothing and return nil.
func (t *Tap) Close() error {
	fd := t.fd.Swap(-1)
	if fd < 0 {
		return nil
	}
	if err := unix.Close(int(fd)); err != nil {
		return fmt.Errorf("tap %q: close: %w", t.name, err)
	}
	return nil
}
