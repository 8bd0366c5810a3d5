package bench

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// KeyValue finds the line "key value" in out (as the reference programs in
// bench/ref print) and returns value.
func KeyValue(out, key string) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", key, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("no %q line in %q", key, strings.TrimSpace(out))
}

// ddCopied matches GNU dd's summary line, as printed with LC_ALL=C:
// "268435456 bytes (268 MB, 256 MiB) copied, 0.0509 s, 5.3 GB/s".
var ddCopied = regexp.MustCompile(`(?m)^(\d+) bytes .*copied, ([0-9.eE+-]+) s,`)

// ParseDD returns the bytes copied and the seconds dd took.
func ParseDD(stderr string) (bytes uint64, seconds float64, err error) {
	m := ddCopied.FindStringSubmatch(stderr)
	if m == nil {
		return 0, 0, fmt.Errorf("no summary line in dd's output %q", strings.TrimSpace(stderr))
	}
	bytes, err = strconv.ParseUint(m[1], 10, 64)
	if err == nil {
		seconds, err = strconv.ParseFloat(m[2], 64)
	}
	if err == nil && !(seconds > 0) {
		err = fmt.Errorf("dd took %v s", seconds)
	}
	return bytes, seconds, err
}

// ExitCounts parses the first table of `govmm -stats` (machine.WriteStats):
// a header "exit reason  count  vmm time  per exit", then one line per
// reason, up to a blank line. It returns the count by reason.
func ExitCounts(stats string) (map[string]uint64, error) {
	lines := strings.Split(stats, "\n")
	start := -1
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "exit" && f[1] == "reason" && strings.Contains(l, "count") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no exit statistics (a line starting \"exit reason\") in %q", tail(stats, 400))
	}
	counts := map[string]uint64{}
	for _, l := range lines[start:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			break
		}
		// reason, count, vmm time, per exit: the reason is one word
		// (kvm.ExitReason.String), but take the last three as the
		// numbers in case it ever is not.
		if len(f) < 4 {
			return nil, fmt.Errorf("exit statistics: cannot parse %q", l)
		}
		n, err := strconv.ParseUint(f[len(f)-3], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("exit statistics: %q: %w", l, err)
		}
		counts[strings.Join(f[:len(f)-3], " ")] += n
	}
	return counts, nil
}

// Total sums counts.
func Total(counts map[string]uint64) uint64 {
	var t uint64
	for _, n := range counts {
		t += n
	}
	return t
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
