package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mapping is one entry of /proc/PID/smaps (proc(5)): the header line's
// address range, permissions and path, and the "Key: N kB" fields in
// bytes.
type Mapping struct {
	Start, End uint64
	Perms      string
	Inode      uint64
	// Path is the sixth header field: a file, "[heap]", "[stack]",
	// "[anon:NAME]", or "" for an unnamed anonymous mapping.
	Path   string
	Fields map[string]uint64
}

// Size is the mapping's length in bytes.
func (m Mapping) Size() uint64 { return m.End - m.Start }

// Rss is the mapping's resident set in bytes.
func (m Mapping) Rss() uint64 { return m.Fields["Rss"] }

// Anonymous reports whether the mapping has no file behind it (it may
// carry a name set with PR_SET_VMA_ANON_NAME, as Go's runtime does).
func (m Mapping) Anonymous() bool {
	return m.Inode == 0 && (m.Path == "" || strings.HasPrefix(m.Path, "[anon"))
}

// ParseSmaps parses /proc/PID/smaps.
func ParseSmaps(r io.Reader) ([]Mapping, error) {
	var maps []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			m, err := parseMapHeader(f)
			if err != nil {
				return nil, fmt.Errorf("smaps line %d: %w", n, err)
			}
			maps = append(maps, m)
			continue
		}
		if len(maps) == 0 {
			return nil, fmt.Errorf("smaps line %d: %q before any mapping", n, line)
		}
		key, ok := strings.CutSuffix(f[0], ":")
		if !ok || len(f) < 2 {
			return nil, fmt.Errorf("smaps line %d: cannot parse %q", n, line)
		}
		if key == "VmFlags" || key == "THPeligible" || key == "ProtectionKey" {
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("smaps line %d: %q: %w", n, line, err)
		}
		if len(f) >= 3 && f[2] == "kB" {
			v <<= 10
		}
		maps[len(maps)-1].Fields[key] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return maps, nil
}

// parseMapHeader parses "start-end perms offset dev inode [path]".
func parseMapHeader(f []string) (Mapping, error) {
	lo, hi, _ := strings.Cut(f[0], "-")
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	inode, err3 := strconv.ParseUint(f[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || end < start {
		return Mapping{}, fmt.Errorf("bad mapping header %q", strings.Join(f, " "))
	}
	m := Mapping{Start: start, End: end, Perms: f[1], Inode: inode, Fields: map[string]uint64{}}
	if len(f) > 5 {
		m.Path = strings.Join(f[5:], " ")
	}
	return m, nil
}

// Overhead is a VMM process's memory apart from its guest's RAM.
type Overhead struct {
	// TotalRss is the sum of every mapping's Rss; GuestRss that of the
	// guest RAM mapping, whose size is GuestSize; FileRss that of the
	// mappings backed by a file (the binary, shared libraries). All in
	// bytes.
	TotalRss, GuestRss, GuestSize, FileRss uint64
}

// VMM is the resident memory the VMM itself costs: TotalRss - GuestRss.
func (o Overhead) VMM() uint64 { return o.TotalRss - o.GuestRss }

// guestSlack is how much larger than the guest's RAM its mapping may be
// (a VMM may round it up for alignment).
const guestSlack = 4 << 20

// GuestOverhead finds the guest RAM mapping of a VMM whose guest has
// guestSize bytes of RAM in one region: the writable anonymous mapping of
// exactly that size, or failing one, the smallest such mapping at most
// guestSlack larger. Of several equal candidates it takes the one with the
// most resident pages.
func GuestOverhead(maps []Mapping, guestSize uint64) (Overhead, error) {
	o := Overhead{}
	best := -1
	better := func(i int) bool {
		if best < 0 {
			return true
		}
		a, b := maps[i], maps[best]
		if a.Size() != b.Size() {
			return a.Size() < b.Size()
		}
		return a.Rss() > b.Rss()
	}
	for i, m := range maps {
		o.TotalRss += m.Rss()
		if m.Inode != 0 {
			o.FileRss += m.Rss()
		}
		if !m.Anonymous() || !strings.HasPrefix(m.Perms, "rw") {
			continue
		}
		if m.Size() >= guestSize && m.Size() <= guestSize+guestSlack && better(i) {
			best = i
		}
	}
	if best < 0 {
		return o, fmt.Errorf("no writable anonymous mapping of %d MiB (the guest RAM) among %d mappings", guestSize>>20, len(maps))
	}
	o.GuestRss, o.GuestSize = maps[best].Rss(), maps[best].Size()
	return o, nil
}
