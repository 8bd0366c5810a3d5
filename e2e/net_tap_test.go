//go:build kvm

package e2e

// virtio-net over a tap (issue 9): the test makes a network namespace with
// a tap in it, boots the test kernel on that tap with a static address from
// the kernel's own ip= configuration, and pings it from the namespace. The
// guest's /init spins without a system call ("spin"), so the kernel's IP
// stack answers on every host kind, emulated ring 0 included.

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/internal/netnstest"
	"github.com/vishvananda/netlink"
)

const (
	tapName   = "govmm-e2e0"
	tapHostIP = "10.0.2.1"
	tapGuest  = "10.0.2.15"
	// tapIPConfig is the kernel's static configuration
	// (Documentation/admin-guide/nfs/nfsroot.rst):
	// ip=client::gateway:netmask::device:autoconf.
	tapIPConfig = "ip=" + tapGuest + "::" + tapHostIP + ":255.255.255.0::eth0:off"
)

// pingLoss matches ping's summary line (iputils).
var pingLoss = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss`)

// requirePing returns the path of ping(8); make tools installs it.
func requirePing(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ping")
	if err != nil {
		t.Fatalf("ping not found (%v): install iputils-ping (make tools does)", err)
	}
	return p
}

// TestNetTapPing: 100 pings, then 100 pings of 1400 bytes, from the
// namespace to the guest get 0% loss; deleting the tap then takes the link
// down without ending govmm; SIGTERM ends it with 143, and -stats counts
// the frames both ways and reports the link down.
func TestNetTapPing(t *testing.T) {
	h := requireKernel(t)
	ping := requirePing(t)
	ns := netnstest.New(t)
	if err := ns.AddTap(tapName, tapHostIP+"/24"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(paths.bin, "run", "-kernel", paths.bzImage, "-initrd", paths.initramfs, "-m", "256M",
		"-timeout", bootLimit.String(), "-stats", "-net", "tap:"+tapName,
		"-append", "console=ttyS0 "+tapIPConfig+" -- spin")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Start(cmd); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The kernel configures eth0 before it starts /init: "Run /init" means
	// the guest is on the network.
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	seen := false
	deadline := time.AfterFunc(bootLimit, func() { cmd.Process.Kill() })
	for !seen && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		seen = strings.Contains(sc.Text(), "Run /init as init process")
	}
	deadline.Stop()
	if !seen {
		cmd.Wait()
		t.Fatalf("%s: console ended before /init (exit %d)\n%s\nstderr:\n%s", h, cmd.ProcessState.ExitCode(), tail(out.String(), 30), stderr.String())
	}
	if c := out.String(); !strings.Contains(c, "ipaddr="+tapGuest) {
		t.Fatalf("%s: no IP-Config line for %s\n%s", h, tapGuest, tail(c, 30))
	}
	go io.Copy(io.Discard, stdout)

	for _, size := range []string{"56", "1400"} {
		var pout strings.Builder
		p := exec.Command(ping, "-c", "100", "-i", "0.05", "-W", "10", "-s", size, "-q", tapGuest)
		p.Stdout, p.Stderr = &pout, &pout
		start := time.Now()
		err := ns.Run(p)
		m := pingLoss.FindStringSubmatch(pout.String())
		if m == nil {
			t.Fatalf("%s: ping -s %s: %v\n%s", h, size, err, pout.String())
		}
		t.Logf("%s: ping -s %s: %s received of %s in %v; %s", h, size, m[2], m[1], time.Since(start).Round(time.Millisecond), lastLine(pout.String()))
		if m[1] != "100" || m[2] != "100" {
			t.Errorf("%s: ping -s %s: %s%% loss (%s of %s), want 0%%\n%s", h, size, m[3], m[2], m[1], pout.String())
		}
	}

	// The tap vanishing under govmm takes the guest's link down; govmm
	// keeps running until it is told to stop.
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	err = ns.Do(func() error {
		l, err := netlink.LinkByName(tapName)
		if err == nil {
			err = netlink.LinkDel(l)
		}
		return err
	})
	if err != nil {
		t.Fatalf("deleting the tap: %v", err)
	}
	select {
	case <-exited:
		t.Fatalf("%s: govmm exited (%d) when its tap was deleted\nstderr:\n%s", h, cmd.ProcessState.ExitCode(), stderr.String())
	case <-time.After(2 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Fatalf("%s: exit %d after SIGTERM, want 143\nstderr:\n%s", h, code, stderr.String())
	}
	// 200 echo requests came in and 200 replies went out, plus ARP.
	rx, tx := netStats(t, stderr.String(), "net0")
	if rx < 200 || tx < 200 {
		t.Errorf("%s: -stats counts %d frames in and %d out, want at least 200 each\n%s", h, rx, tx, stderr.String())
	}
	if !strings.Contains(stderr.String(), "net0 (tap "+tapName+"): link down:") {
		t.Errorf("%s: no link-down report after the tap was deleted\n%s", h, stderr.String())
	}
}

// netStats reads a device's receive and transmit frame counts from the
// -stats network table.
func netStats(t *testing.T, stderr, dev string) (rx, tx int) {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && f[0] == dev {
			// net0 (tap NAME) rxf rxb rxd txf txb txd: the name is
			// three fields for a tap, two otherwise.
			nums := f[len(f)-6:]
			fmt.Sscan(nums[0], &rx)
			fmt.Sscan(nums[3], &tx)
			return rx, tx
		}
	}
	t.Fatalf("no %s row in -stats:\n%s", dev, stderr)
	return 0, 0
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
