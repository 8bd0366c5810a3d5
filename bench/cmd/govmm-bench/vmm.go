package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/govmm/govmm/bench"
)

// vmmProc is one VMM process (govmm or QEMU) whose console is its stdout.
// It records when the first byte and each watched string first appeared
// there, counted from just before exec, and when the process ended.
type vmmProc struct {
	label string
	cmd   *exec.Cmd
	start time.Time
	watch []string

	mu        sync.Mutex
	out       []byte
	firstByte time.Duration            // 0: no output yet
	marks     map[string]time.Duration // first appearance of each watch string
	changed   chan struct{}            // closed and replaced on every new mark or the end
	stderr    bytes.Buffer

	done    chan struct{} // closed when the process has ended
	exitAt  time.Duration
	code    int
	waitErr error
}

// startVMM starts argv[0] with argv[1:], stdin /dev/null, and watches its
// stdout for the given strings.
func startVMM(label string, argv []string, watch ...string) (*vmmProc, error) {
	p := &vmmProc{label: label, watch: watch, marks: map[string]time.Duration{}, changed: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	// A VMM must never outlive the benchmark.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	go p.read(out)
	return p, nil
}

// lockedWriter serializes writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// read consumes stdout, stamps the marks, then reaps the process.
func (p *vmmProc) read(out io.Reader) {
	buf := make([]byte, 32<<10)
	longest := 0
	for _, w := range p.watch {
		longest = max(longest, len(w))
	}
	for {
		n, err := out.Read(buf)
		if n > 0 {
			at := time.Since(p.start)
			p.mu.Lock()
			from := max(0, len(p.out)-longest)
			p.out = append(p.out, buf[:n]...)
			if p.firstByte == 0 {
				p.firstByte = at
			}
			tail := p.out[from:]
			for _, w := range p.watch {
				if _, ok := p.marks[w]; !ok && bytes.Contains(tail, []byte(w)) {
					p.marks[w] = at
				}
			}
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	werr := p.cmd.Wait()
	p.mu.Lock()
	p.exitAt = time.Since(p.start)
	p.waitErr = werr
	p.code = p.cmd.ProcessState.ExitCode()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	close(p.done)
}

// waitFor waits until cond (called under the lock) holds, the process has
// ended, or limit passes. It reports whether cond held.
func (p *vmmProc) waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.After(limit)
	for {
		p.mu.Lock()
		ok, ch := cond(), p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-p.done:
			p.mu.Lock()
			defer p.mu.Unlock()
			return cond()
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// mark returns when w first appeared (0: not yet).
func (p *vmmProc) mark(w string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.marks[w]
}

// first returns when the first byte of output came (0: none yet).
func (p *vmmProc) first() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstByte
}

// output returns stdout so far and stderr.
func (p *vmmProc) output() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.out), p.stderr.String()
}

// wait waits for the process to end by itself, for at most limit; then it
// sends SIGTERM, and SIGKILL 10 s later. It reports whether the process
// ended by itself.
func (p *vmmProc) wait(limit time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(limit):
	}
	p.stop()
	return false
}

// stop ends the process: SIGTERM, then SIGKILL after 10 s.
func (p *vmmProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// describe says how the process ended, with the tails of its output.
func (p *vmmProc) describe() string {
	out, errs := p.output()
	return fmt.Sprintf("%s: exit %d (%v); stdout tail: %q; stderr tail: %q", p.label, p.code, p.waitErr, tail(out, 300), tail(errs, 300))
}

// vmmOverhead samples /proc/PID/smaps until ctx ends and returns the
// largest (RSS − guest RAM RSS) seen, the sample it came from (and its
// largest other mappings), the last sample, and the number of samples.
func vmmOverhead(ctx context.Context, pid int, guest uint64, every time.Duration) (peak, last bench.Overhead, top string, n int) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if o, maps, err := readSmaps(pid, guest); err == nil {
			n++
			last = o
			if o.VMM() > peak.VMM() || n == 1 {
				peak, top = o, topMappings(maps, o, 3)
			}
		}
		select {
		case <-ctx.Done():
			return peak, last, top, n
		case <-t.C:
		}
	}
}

// readOverheadOf reads /proc/PID/smaps and splits the RSS into the guest
// RAM mapping of guest bytes and the rest.
func readOverheadOf(pid int, guest uint64) (bench.Overhead, error) {
	o, _, err := readSmaps(pid, guest)
	return o, err
}

// readSmaps is readOverheadOf, also returning the mappings.
func readSmaps(pid int, guest uint64) (bench.Overhead, []bench.Mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return bench.Overhead{}, nil, err
	}
	defer f.Close()
	maps, err := bench.ParseSmaps(f)
	if err != nil {
		return bench.Overhead{}, nil, err
	}
	o, err := bench.GuestOverhead(maps, guest)
	return o, maps, err
}

// topMappings names the n largest resident mappings other than the guest
// RAM (the anonymous one of o.GuestSize bytes with o.GuestRss resident),
// adding up mappings of the same file, as "path 1.2 MiB, ...".
func topMappings(maps []bench.Mapping, o bench.Overhead, n int) string {
	by := map[string]uint64{}
	skipped := false
	for _, m := range maps {
		if !skipped && m.Anonymous() && m.Size() == o.GuestSize && m.Rss() == o.GuestRss {
			skipped = true
			continue
		}
		name := m.Path
		if name == "" {
			name = "[anon]"
		}
		by[filepath.Base(name)] += m.Rss()
	}
	type kv struct {
		k string
		v uint64
	}
	var l []kv
	for k, v := range by {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || (l[i].v == l[j].v && l[i].k < l[j].k) })
	var parts []string
	for i := 0; i < len(l) && i < n; i++ {
		parts = append(parts, fmt.Sprintf("%s %s", l[i].k, fmtBytes(float64(l[i].v))))
	}
	return strings.Join(parts, ", ")
}

// vmHWM reads VmHWM (peak RSS) from /proc/PID/status, in bytes.
func vmHWM(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// qemuBase is what every QEMU reference starts with: KVM, one vCPU, no
// default devices, no configuration files, no display, COM1 on stdout,
// and an exit instead of a reboot.
func (s *suite) qemuBase(machine string, mem uint64) []string {
	return []string{s.qemu, "-M", machine, "-accel", "kvm", "-m", fmt.Sprintf("%dM", mem>>20), "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"}
}

// showArgv prints a command line with the binary's base name.
func showArgv(argv []string) string {
	a := append([]string{filepath.Base(argv[0])}, argv[1:]...)
	for i, x := range a {
		if strings.ContainsAny(x, " ;") {
			a[i] = "'" + x + "'"
		}
	}
	return strings.Join(a, " ")
}
