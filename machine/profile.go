package machine

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// profilePeriodDivisor makes the sampler look this many times more often
// when a RIP profile is being recorded.
const profilePeriodDivisor = 25

// recordRIP adds one RIP sample to the profile (VCPU goroutine only).
func (v *vcpu) recordRIP(rip uint64) {
	if v.profile != nil {
		v.profile[rip]++
	}
}

// WriteProfile writes the sampled guest RIPs as "samples percent address
// [symbol+offset]" lines, most frequent first, aggregated by symbol when a
// System.map is given (read from systemMap; nil for none; the caller opens
// it, before the sandbox forbids opening files). It is how a slow boot is
// explained: see README.
func (m *Machine) WriteProfile(w io.Writer, systemMap io.Reader) error {
	counts := map[uint64]uint64{}
	var total uint64
	for _, v := range m.vcpus {
		for rip, n := range v.profile {
			counts[rip] += n
			total += n
		}
	}
	if total == 0 {
		_, err := fmt.Fprintln(w, "no samples")
		return err
	}
	type row struct {
		key string
		n   uint64
	}
	byKey := map[string]uint64{}
	var syms *symbolTable
	if systemMap != nil {
		var err error
		if syms, err = loadSystemMap(systemMap); err != nil {
			return err
		}
	}
	for rip, n := range counts {
		key := fmt.Sprintf("%#x", rip)
		if syms != nil {
			key = syms.lookup(rip)
		}
		byKey[key] += n
	}
	rows := make([]row, 0, len(byKey))
	for k, n := range byKey {
		rows = append(rows, row{k, n})
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].key < rows[j].key
	})
	fmt.Fprintf(w, "# %d RIP samples, every %v per VCPU\n", total, samplePeriod/profilePeriodDivisor)
	for _, r := range rows {
		fmt.Fprintf(w, "%8d %5.1f%% %s\n", r.n, 100*float64(r.n)/float64(total), r.key)
	}
	return nil
}

// symbolTable is a sorted System.map: text symbols by address.
type symbolTable struct {
	addrs []uint64
	names []string
}

func loadSystemMap(r io.Reader) (*symbolTable, error) {
	t := &symbolTable{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || !strings.ContainsAny(fields[1], "tTwW") {
			continue
		}
		a, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil {
			continue
		}
		t.addrs = append(t.addrs, a)
		t.names = append(t.names, fields[2])
	}
	if len(t.addrs) == 0 {
		name := "file"
		if f, ok := r.(interface{ Name() string }); ok {
			name = f.Name()
		}
		return nil, fmt.Errorf("-system-map %s: no text symbols", name)
	}
	sort.Sort(t)
	return t, nil
}

func (t *symbolTable) Len() int           { return len(t.addrs) }
func (t *symbolTable) Less(i, j int) bool { return t.addrs[i] < t.addrs[j] }
func (t *symbolTable) Swap(i, j int) {
	t.addrs[i], t.addrs[j] = t.addrs[j], t.addrs[i]
	t.names[i], t.names[j] = t.names[j], t.names[i]
}

// lookup names the function holding addr, or the address itself.
func (t *symbolTable) lookup(addr uint64) string {
	i := sort.Search(len(t.addrs), func(i int) bool { return t.addrs[i] > addr }) - 1
	if i < 0 {
		return fmt.Sprintf("%#x", addr)
	}
	return t.names[i]
}
