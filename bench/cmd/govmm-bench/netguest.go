package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The guest of row 10 and the VMM command lines that run it. Both VMMs
// boot the test kernel with the same busybox initramfs, command line, RAM
// and vCPU count, on a tap in a private network namespace; the kernel
// configures eth0 itself (ip=), and /init sends $govmm_bench_bytes zero
// bytes to the host over TCP with busybox nc, then powers off.

const (
	netTap    = "govmm-bench0"
	netHostIP = "10.0.2.1"
	netPort   = 5001
	netRAM    = 256 << 20
	// netIPConfig is the kernel's static configuration
	// (Documentation/admin-guide/nfs/nfsroot.rst):
	// ip=client::gateway:netmask::device:autoconf.
	netIPConfig = "ip=10.0.2.15::" + netHostIP + ":255.255.255.0::eth0:off"
	// netBytesVar is the kernel parameter that carries the byte count: the
	// kernel hands unknown name=value parameters to /init as environment
	// variables, so one initramfs serves every size.
	netBytesVar = "govmm_bench_bytes"
	// netStart is what /init prints when eth0 has its address, just
	// before it starts sending.
	netStart = "govmm-bench: net start"
	// netSent starts the line /init prints when nc has returned, followed
	// by nc's exit status.
	netSent = "govmm-bench: net sent, nc exit "
)

// netInit is row 10's /init. busybox nc (networking/nc.c) copies stdin to
// the socket in 1 KiB reads, shuts its sending side down at EOF and exits
// when the host closes: the host reads to EOF and then closes.
var netInit = fmt.Sprintf(`#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t devtmpfs dev /dev
i=0
until $bb ip addr show dev eth0 2>/dev/null | $bb grep -q 'inet 10.0.2.15/'; do
	i=$((i+1))
	if [ $i -gt 60 ]; then echo "govmm-bench: eth0 has no address"; $bb poweroff -f; fi
	$bb sleep 1
done
echo "%[5]s, $%[1]s bytes"
$bb head -c "$%[1]s" /dev/zero | $bb nc %[2]s %[3]d
echo "%[4]s$?"
$bb poweroff -f
`, netBytesVar, netHostIP, netPort, netSent, netStart)

// netCmdline is the kernel command line of a row 10 run sending bytes.
func netCmdline(bytes uint64) string {
	return "console=ttyS0 panic=-1 " + netIPConfig + " " + netBytesVar + "=" + strconv.FormatUint(bytes, 10)
}

// netInitramfs writes row 10's /init and builds its initramfs with the
// stock kernel's static busybox.
func (s *suite) netInitramfs() (string, error) {
	bb := filepath.Join(s.stockDir, "busybox")
	if s.stockDir == "" {
		return "", fmt.Errorf("no -stock-dir (scripts/fetch-stock-kernel.sh prints it): the guest needs its static busybox")
	}
	if _, err := os.Stat(bb); err != nil {
		return "", err
	}
	dir := filepath.Join(s.build, "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	init, cpio := filepath.Join(dir, "net-init"), filepath.Join(dir, "net-bench.cpio")
	if err := os.WriteFile(init, []byte(netInit), 0o755); err != nil {
		return "", err
	}
	if err := s.cmd(time.Minute, s.root, s.govmm, "initramfs", "-o", cpio, "-init", init, "bin/busybox="+bb); err != nil {
		return "", err
	}
	return cpio, nil
}

// netVMM is one VMM configuration of row 10.
type netVMM struct {
	key  string // "govmm", "qemu", "qemu-nocsum", "qemu-vhost"
	what string // how the notes name it
	argv func(kernel, initrd string, bytes uint64, limit time.Duration) []string
}

// netVMMs returns govmm and QEMU's user-space virtio-net (vhost=off) with
// its default offloads and with the guest's transmit offloads off (csum=off,
// as govmm offers none), plus vhost=on when /dev/vhost-net exists.
func (s *suite) netVMMs() []netVMM {
	mem := fmt.Sprintf("%dM", netRAM>>20)
	qemu := func(vhost, dev string) func(string, string, uint64, time.Duration) []string {
		return func(kernel, initrd string, bytes uint64, _ time.Duration) []string {
			return append(s.qemuBase(netQEMUMachine, netRAM), "-cpu", "host", "-kernel", kernel, "-initrd", initrd, "-append", netCmdline(bytes),
				"-netdev", "tap,id=n0,ifname="+netTap+",script=no,downscript=no,vhost="+vhost, "-device", dev)
		}
	}
	vs := []netVMM{
		{key: "govmm", what: "govmm", argv: func(kernel, initrd string, bytes uint64, limit time.Duration) []string {
			return []string{s.govmm, "run", "-kernel", kernel, "-initrd", initrd, "-m", mem, "-smp", "1", "-net", "tap:" + netTap,
				"-stats", "-timeout", limit.String(), "-append", netCmdline(bytes)}
		}},
		{key: "qemu", what: "QEMU " + netQEMUMachine + " vhost=off", argv: qemu("off", "virtio-net-pci,netdev=n0")},
		{key: "qemu-nocsum", what: "QEMU " + netQEMUMachine + " vhost=off csum=off", argv: qemu("off", "virtio-net-pci,netdev=n0,csum=off")},
	}
	if _, err := os.Stat("/dev/vhost-net"); err == nil {
		vs = append(vs, netVMM{key: "qemu-vhost", what: "QEMU " + netQEMUMachine + " vhost=on (in-kernel virtio-net)", argv: qemu("on", "virtio-net-pci,netdev=n0")})
	}
	return vs
}

// netQEMUMachine is QEMU's machine type in row 10: virtio-net-pci needs a
// PCI bus, which microvm lacks by default, and pc is the machine row 7b
// boots the same kernel on.
const netQEMUMachine = "pc"
