package machine

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/govmm/govmm/kvm"
)

// vcpuStats is one VCPU's exit accounting. Only the VCPU's own loop writes
// it, so it needs no lock; WriteStats reads it after the loops have ended.
type vcpuStats struct {
	count [kvm.NumExitReasons]uint64
	// nanos is the time spent handling exits in govmm, with -stats only.
	nanos [kvm.NumExitReasons]uint64
	// fixups counts compat fix-ups by instruction name.
	fixups map[string]uint64
}

// WriteStats prints the -stats table: exits by reason, by device range, and
// the compat fix-ups. Call it after Run has returned.
func (m *Machine) WriteStats(w io.Writer) {
	var total vcpuStats
	total.fixups = map[string]uint64{}
	for _, v := range m.vcpus {
		for i := range total.count {
			total.count[i] += v.stats.count[i]
			total.nanos[i] += v.stats.nanos[i]
		}
		for k, n := range v.stats.fixups {
			total.fixups[k] += n
		}
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "exit reason\tcount\tvmm time\tper exit\t")
	for i, n := range total.count {
		if n == 0 {
			continue
		}
		d := time.Duration(total.nanos[i])
		fmt.Fprintf(tw, "%v\t%d\t%v\t%v\t\n", kvm.ExitReason(i), n, d.Round(time.Microsecond), (d / time.Duration(n)).Round(10*time.Nanosecond))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "bus\taddress\tdevice\taccesses\tvmm time\t")
	for _, b := range []*Bus{m.pio, m.mmio} {
		if b == nil {
			continue
		}
		for _, r := range b.ranges {
			if n := r.accesses.Load(); n > 0 {
				fmt.Fprintf(tw, "%s\t%#x\t%s\t%d\t%v\t\n", b.name, r.base, r.name, n, time.Duration(r.nanos.Load()).Round(time.Microsecond))
			}
		}
		if n := b.unknownReads.Load() + b.unknownWrites.Load(); n > 0 {
			fmt.Fprintf(tw, "%s\t-\t(no device)\t%d\t-\t\n", b.name, n)
		}
	}
	tw.Flush()
	m.coalesce.writeStats(w)
	if m.console != nil {
		if n := m.console.droppedBytes(); n > 0 {
			fmt.Fprintf(w, "console output refused: %d bytes\n", n)
		}
	}
	m.writeUnknown(w)
	m.devs.writeStats(w)
	m.writeNetStats(w)
	if len(total.fixups) > 0 {
		names := make([]string, 0, len(total.fixups))
		for k := range total.fixups {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprint(w, "\ncompat fix-ups:")
		for _, k := range names {
			fmt.Fprintf(w, " %s=%d", k, total.fixups[k])
		}
		fmt.Fprintln(w)
	}
}

// topUnknown is how many addresses without a device -stats lists per bus.
const topUnknown = 10

// writeUnknown lists, per bus, the addresses without a device that the
// guest touched most: the probes that cost exits for nothing.
func (m *Machine) writeUnknown(w io.Writer) {
	var tw *tabwriter.Writer
	for _, b := range []*Bus{m.pio, m.mmio} {
		if b == nil {
			continue
		}
		top, rest := b.TopUnknown(topUnknown)
		if len(top) == 0 && rest.Total() == 0 {
			continue
		}
		if tw == nil {
			fmt.Fprintf(w, "\ntop addresses with no device (reads give all-ones, writes are dropped):\n")
			tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "bus\taddress\treads\twrites\tsizes\t")
		}
		for _, u := range top {
			fmt.Fprintf(tw, "%s\t%#x\t%d\t%d\t%s\t\n", b.name, u.Addr, u.Reads, u.Writes, u.SizeList())
		}
		if rest.Total() > 0 {
			fmt.Fprintf(tw, "%s\t(others)\t%d\t%d\t%s\t\n", b.name, rest.Reads, rest.Writes, rest.SizeList())
		}
	}
	if tw != nil {
		tw.Flush()
	}
}
