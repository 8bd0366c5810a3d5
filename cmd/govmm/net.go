package main

import (
	"fmt"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/hostnet"
	"github.com/govmm/govmm/machine"
)

// netHelp is the help of -net, for run and exec.
const netHelp = "virtio-net device (repeatable; eth0, eth1, ...): " +
	"user[,hostfwd=tcp:127.0.0.1:HOSTPORT-:GUESTPORT]...[,mac=MAC] (no privilege; served by the helper govmm-usernet, found beside govmm or in $PATH; the guest gets 10.0.2.15 by DHCP and reaches the host's 127.0.0.1 at 10.0.2.2) " +
	"or tap:NAME[,mac=MAC] (an existing tap device)"

// netFlag returns the -net flag's parser, which appends to specs.
func netFlag(specs *[]hostnet.Spec) func(string) error {
	return func(v string) error {
		s, err := hostnet.ParseSpec(v)
		if err != nil {
			return err
		}
		*specs = append(*specs, s)
		return nil
	}
}

// netConfigs turns -net values into the machine's devices, backends not
// yet open.
func netConfigs(specs []hostnet.Spec) []machine.Net {
	var nets []machine.Net
	for _, s := range specs {
		nets = append(nets, machine.Net{Spec: s})
	}
	return nets
}

// openNets opens every -net backend once for the whole run, so that a
// -reboot restart keeps the tap and the user network (its forwarded ports
// stay bound), and returns the function that closes them. On error nothing
// stays open. sandbox is -sandbox: the user network's helper process
// confines itself with its own seccomp filter unless it is off.
func openNets(cfg *machine.Config, sandbox bool) (func(), error) {
	var opened []virtio.NetBackend
	closeAll := func() {
		for _, b := range opened {
			b.Close()
		}
	}
	for i := range cfg.Nets {
		be, err := machine.OpenNet(i, cfg.Nets[i].Spec, sandbox)
		if err != nil {
			closeAll()
			return func() {}, fmt.Errorf("-net: %w", err)
		}
		cfg.Nets[i].Backend = be
		opened = append(opened, be)
	}
	return closeAll, nil
}
