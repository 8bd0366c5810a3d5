package machine

import (
	"fmt"
	"io"
	"net"
	"text/tabwriter"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/hostnet"
)

// ethOverhead is what a frame adds to the MTU: the Ethernet header and a
// VLAN tag (IEEE 802.1Q).
const ethOverhead = 14 + 4

// Net is one -net device.
type Net struct {
	// Spec is the backend the user asked for, and the MAC if given.
	Spec hostnet.Spec
	// Backend, when not nil, is Spec's backend opened with OpenNet: it
	// outlives the machine, which neither opens nor closes it. govmm opens
	// its backends once per run, so a -reboot restart keeps the tap and
	// the user network with its port forwards. When nil, the machine opens
	// the backend and closes it with the device.
	Backend virtio.NetBackend
}

// netDev is one network device, kept for the -stats table.
type netDev struct {
	name string
	dev  *virtio.Net
}

// NetName names -net i for logs and errors: "net0 (tap tap0)".
func NetName(i int, s hostnet.Spec) string {
	if s.Kind == hostnet.KindTap {
		return fmt.Sprintf("net%d (tap %s)", i, s.Tap)
	}
	return fmt.Sprintf("net%d (%s)", i, s.Kind)
}

// NetMAC is the guest's address on -net i: the one given, or one derived
// from the device's index and backend, so that the same command line gives
// the guest the same address every time.
func NetMAC(i int, s hostnet.Spec) net.HardwareAddr {
	if s.MAC != nil {
		return s.MAC
	}
	return hostnet.StableMAC(fmt.Sprintf("govmm net%d %s %s", i, s.Kind, s.Tap))
}

// OpenNet opens the host side of -net i: an existing tap, or a user-mode
// network whose DHCP server leases 10.0.2.15 to NetMAC(i, s), run by the
// helper govmm-usernet (hostnet.StartUser). sandbox confines the helper
// with its own seccomp filter (false for govmm -sandbox=off). Errors name
// the tap, the forwarded address or the helper.
func OpenNet(i int, s hostnet.Spec, sandbox bool) (virtio.NetBackend, error) {
	switch s.Kind {
	case hostnet.KindTap:
		return hostnet.OpenTap(s.Tap)
	case hostnet.KindUser:
		return hostnet.StartUser(hostnet.UserConfig{MAC: NetMAC(i, s), Forwards: s.Forwards, NoSandbox: !sandbox})
	}
	return nil, fmt.Errorf("unknown network kind %q", s.Kind)
}

// maxFrame is the largest frame a backend carries: its MTU plus the
// Ethernet overhead.
func maxFrame(be virtio.NetBackend) int {
	if t, ok := be.(interface{ MTU() int }); ok && t.MTU() > 0 {
		return t.MTU() + ethOverhead
	}
	return hostnet.UserMTU + ethOverhead
}

// keepOpen is a backend the device must not close (Net.Backend).
type keepOpen struct{ virtio.NetBackend }

func (keepOpen) Close() error { return nil }

// addNet adds -net i as a virtio-net device, opening its backend unless it
// was opened for the whole run.
func (m *Machine) addNet(i int, n Net) error {
	name := NetName(i, n.Spec)
	be := n.Backend
	if be == nil {
		var err error
		if be, err = OpenNet(i, n.Spec, true); err != nil {
			return fmt.Errorf("-net: %w", err)
		}
	} else {
		be = keepOpen{be}
	}
	mac, frame := NetMAC(i, n.Spec), maxFrame(be)
	dev, err := virtio.NewNet(be, virtio.NetConfig{MAC: mac, MaxFrame: frame})
	if err != nil {
		be.Close()
		return fmt.Errorf("-net: %s: %w", name, err)
	}
	if _, err := m.addVirtio("virtio-net "+name, dev); err != nil {
		dev.Close()
		return err
	}
	m.nets = append(m.nets, netDev{name: name, dev: dev})
	m.logf("%s: MAC %s, frames up to %d bytes", name, mac, frame)
	return nil
}

// writeNetStats adds the network devices' counters to the -stats table.
func (m *Machine) writeNetStats(w io.Writer) {
	if len(m.nets) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "network\trx frames\trx bytes\trx dropped\ttx frames\ttx bytes\ttx dropped\t")
	for _, n := range m.nets {
		s := n.dev.Stats()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", n.name, s.RxFrames, s.RxBytes, s.RxDropped, s.TxFrames, s.TxBytes, s.TxDropped)
	}
	tw.Flush()
	for _, n := range m.nets {
		if err := n.dev.LinkErr(); err != nil {
			fmt.Fprintf(w, "%s: link down: %v\n", n.name, err)
		}
	}
}
