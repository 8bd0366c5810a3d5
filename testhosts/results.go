package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// result is one top-level test's outcome on one host.
type result struct {
	Host    string
	Package string // short package path
	Test    string
	Status  string // PASS, FAIL or SKIP; PASS* passed on a retry in a new L1
	Elapsed time.Duration
}

// The lines the nested script prints before and after each test binary.
const (
	startMarker = "@@testhosts: start "
	endMarker   = "@@testhosts: end "
)

// resultLine matches go test -v's line for a top-level test's end. Subtests
// are indented, so the leading "---" at column 0 picks top-level tests only.
var resultLine = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (Test\S*) \(([0-9.]+)s\)`)

// endLine matches the nested script's "@@testhosts: end PKG exit N".
var endLine = regexp.MustCompile(`^` + regexp.QuoteMeta(endMarker) + `(\S+) exit (\d+)$`)

// collector reads test output line by line, passing it on to out, and
// records each test's result. It understands both a single binary's output
// (pkg set) and the nested script's marked sections.
type collector struct {
	host    string
	out     io.Writer
	pkg     string
	results []result
	// exits holds each package's binary exit status (nested sections).
	exits map[string]int
}

func newCollector(host string, out io.Writer) *collector {
	return &collector{host: host, out: out, exits: map[string]int{}}
}

// consume reads r to its end, line by line.
func (c *collector) consume(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		c.line(sc.Text())
	}
	return sc.Err()
}

// run runs cmd with its stdout and stderr read by the collector, and
// returns cmd's error once the output is consumed.
func (c *collector) run(cmd *exec.Cmd) error {
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan error, 1)
	go func() {
		err := c.consume(pr)
		io.Copy(io.Discard, pr) // after a scanner error, never block the writer
		done <- err
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	return err
}

func (c *collector) line(l string) {
	fmt.Fprintln(c.out, l)
	if p, ok := strings.CutPrefix(l, startMarker); ok {
		c.pkg = p
		return
	}
	if m := endLine.FindStringSubmatch(l); m != nil {
		n, _ := strconv.Atoi(m[2])
		c.exits[m[1]] = n
		return
	}
	if m := resultLine.FindStringSubmatch(l); m != nil {
		secs, _ := strconv.ParseFloat(m[3], 64)
		c.results = append(c.results, result{Host: c.host, Package: c.pkg, Test: m[2], Status: m[1],
			Elapsed: time.Duration(secs * float64(time.Second))})
	}
}

// reconcile adds a FAIL for every expected test of pkg with no result line
// (a binary that panicked, hung or never started), and a FAIL for a binary
// that exited non-zero with every test passing.
func reconcile(host, pkg string, expected []string, got []result, exit int, why string) []result {
	seen := map[string]bool{}
	failed := false
	for _, r := range got {
		if r.Package == pkg {
			seen[r.Test] = true
			failed = failed || r.Status == "FAIL"
		}
	}
	var add []result
	for _, t := range expected {
		if !seen[t] {
			add = append(add, result{Host: host, Package: pkg, Test: t, Status: "FAIL"})
			failed = true
		}
	}
	if exit != 0 && !failed {
		add = append(add, result{Host: host, Package: pkg, Test: "(" + why + ")", Status: "FAIL"})
	}
	return add
}

// counts tallies results by status.
func counts(rs []result) (pass, fail, skip int) {
	for _, r := range rs {
		switch r.Status {
		case "PASS", "PASS*":
			pass++
		case "FAIL":
			fail++
		case "SKIP":
			skip++
		}
	}
	return
}

// writeTable prints every result, sorted by host, package and test.
func writeTable(w io.Writer, rs []result) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		return a.Test < b.Test
	})
	fmt.Fprintf(w, "%-8s %-22s %-40s %-6s %9s\n", "HOST", "PACKAGE", "TEST", "RESULT", "TIME")
	for _, r := range rs {
		fmt.Fprintf(w, "%-8s %-22s %-40s %-6s %8.1fs\n", r.Host, r.Package, r.Test, r.Status, r.Elapsed.Seconds())
	}
}

// summaryLine is the closing line CI logs and scripts read for each host,
// in exactly this form: "<host>: N passed, N failed, N skipped".
func summaryLine(host string, rs []result) string {
	p, f, s := counts(rs)
	return fmt.Sprintf("%s: %d passed, %d failed, %d skipped", host, p, f, s)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
