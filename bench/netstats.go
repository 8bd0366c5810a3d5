package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// NetCounters are one network device's counters from `govmm -stats`.
type NetCounters struct {
	RxFrames, RxBytes, RxDropped uint64
	TxFrames, TxBytes, TxDropped uint64
}

// NetCounts finds device dev ("net0") in the network table of `govmm
// -stats` (machine.writeNetStats: a header starting "network", then one
// line per device, "net0 (tap NAME)" followed by rx frames, bytes and
// dropped and tx frames, bytes and dropped) and returns its counters.
func NetCounts(stats, dev string) (NetCounters, error) {
	var c NetCounters
	inTable := false
	for _, l := range strings.Split(stats, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			inTable = false
			continue
		}
		if f[0] == "network" && strings.Contains(l, "rx frames") {
			inTable = true
			continue
		}
		if !inTable || f[0] != dev {
			continue
		}
		if len(f) < 7 {
			return c, fmt.Errorf("network statistics: cannot parse %q", l)
		}
		var v [6]uint64
		for i, s := range f[len(f)-6:] {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return c, fmt.Errorf("network statistics: %q: %w", l, err)
			}
			v[i] = n
		}
		return NetCounters{v[0], v[1], v[2], v[3], v[4], v[5]}, nil
	}
	return c, fmt.Errorf("no %s line in the network statistics of %q", dev, tail(stats, 400))
}
