package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/kvm"
	"github.com/govmm/govmm/machine"
)

// probeCmd reports the KVM API version, the capabilities govmm uses, and
// whether guest ring 0 runs in hardware: first from /sys and /proc, then
// measured by timing the same loop at CPL 0 and at CPL 3.
func probeCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("govmm probe")
	dev := fs.String("kvm", "/dev/kvm", "KVM device")
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	sys, err := kvm.Open(*dev)
	if err != nil {
		fmt.Fprintf(stderr, "govmm probe: %v\n", err)
		return machine.ExitError
	}
	defer sys.Close()
	v, _ := sys.APIVersion()
	fmt.Fprintf(stdout, "KVM API version: %d\n", v)
	fmt.Fprintln(stdout, "capabilities:")
	for _, c := range []kvm.Cap{
		kvm.CapIRQChip, kvm.CapUserMemory, kvm.CapSetTSSAddr, kvm.CapSetIdentityMap, kvm.CapPIT2,
		kvm.CapIRQFD, kvm.CapIOEventFD, kvm.CapSignalMSI, kvm.CapIRQRouting, kvm.CapImmediateExit,
		kvm.CapVCPUEvents, kvm.CapInternalErrData, kvm.CapNrVCPUs, kvm.CapMaxVCPUs, kvm.CapNrMemslots,
	} {
		n, err := sys.CheckExtension(c)
		switch {
		case err != nil:
			fmt.Fprintf(stdout, "  %-30s error: %v\n", c, err)
		case n == 0:
			fmt.Fprintf(stdout, "  %-30s no\n", c)
		default:
			fmt.Fprintf(stdout, "  %-30s yes (%d)\n", c, n)
		}
	}
	host := compat.DetectHost()
	fmt.Fprintf(stdout, "host says: guest ring 0 %s (%s)\n", ringWord(host.EmulatedRing0), host.Why)

	const loops = 200_000
	ring0, err := timeCountDown(*dev, machine.RawLong, loops)
	if err != nil {
		fmt.Fprintf(stderr, "govmm probe: CPL 0 loop: %v\n", err)
		return machine.ExitError
	}
	ring3, err := timeCountDown(*dev, machine.RawUser, loops)
	if err != nil {
		fmt.Fprintf(stderr, "govmm probe: CPL 3 loop: %v\n", err)
		return machine.ExitError
	}
	fmt.Fprintf(stdout, "measured: %d-iteration loop at CPL 0 took %v, at CPL 3 %v (%.0fx)\n",
		loops, ring0.Round(time.Microsecond), ring3.Round(time.Microsecond), float64(ring0)/float64(ring3))
	// Both runs include the same VM set-up; a hardware host runs the two
	// loops at the same speed, an emulating host some 1000x slower at CPL 0.
	emulated := ring0 > 20*ring3
	fmt.Fprintf(stdout, "verdict: guest ring 0 %s\n", ringWord(emulated))
	if emulated != host.EmulatedRing0 {
		fmt.Fprintln(stdout, "note: the measurement disagrees with /sys and /proc; -compat auto follows /sys and /proc")
	}
	if emulated {
		fmt.Fprintln(stdout, "consequence: Linux boots here take minutes, not milliseconds; govmm applies -compat fix-ups (see README)")
	}
	return 0
}

func ringWord(emulated bool) string {
	if emulated {
		return "is emulated instruction by instruction"
	}
	return "runs in hardware"
}

// timeCountDown runs guests.CountDown(n) in mode and returns the run time.
func timeCountDown(dev string, mode machine.RawMode, n uint32) (time.Duration, error) {
	m, err := machine.New(machine.Config{MemSize: 16 << 20, RawImage: guests.CountDown(n), RawMode: mode, KVMPath: dev})
	if err != nil {
		return 0, err
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	res := m.Run(ctx)
	d := time.Since(start)
	if res.Code != machine.ExitOK {
		return 0, fmt.Errorf("%v", res)
	}
	return d, nil
}
