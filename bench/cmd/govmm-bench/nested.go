package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govmm/govmm/bench"
)

// l1RowPrefix starts a result line of a govmm-bench run inside the L1:
// the row as JSON. Every other line is progress.
const l1RowPrefix = "govmm-bench-row "

// hostKind says what this machine's /dev/kvm is: "none", "pvm" (guest
// ring 0 emulated: docs/HOST-KVM.md) or "hardware".
func hostKind() string {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return "none"
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return "pvm"
	}
	return "hardware"
}

// vsQEMU runs the selected rows of 7 to 10: here when this machine's KVM
// runs guest ring 0 in hardware (or when this is the L1), and on the
// nested test host, in one L1 boot, unless this is the L1.
func (s *suite) vsQEMU() {
	if s.quick {
		for _, id := range []string{"7", "8", "9", "10"} {
			if s.want(id) {
				s.add(bench.Row{ID: id, Name: "vs QEMU", Govmm: "skipped", Ref: "skipped", Ratio: "-", Notes: "-quick boots no kernel"})
			}
		}
		return
	}
	boots := s.want("7") || s.want("8") || s.want("9")
	if s.inL1 {
		if boots {
			s.bootRows("[nested]")
		}
		if s.want("10") {
			s.netRow("[nested]")
		}
		return
	}
	switch hostKind() {
	case "hardware":
		if boots {
			s.bootRows("[host]")
		}
		if s.want("10") {
			s.netRow("[host]")
		}
	case "pvm":
		if boots {
			s.add(bench.Row{ID: "7-9", Name: "boot and memory vs QEMU [host]", Govmm: "n/a", Ref: "n/a", Ratio: "-",
				Notes: "not measured on this machine's /dev/kvm: it is kvm_pvm, which emulates guest ring 0; QEMU 7.2 cannot boot Linux here (-cpu host aborts on MSR 0x10a; with those features masked it stops at the int3 self-test with a KVM internal error: docs/HOST-KVM.md), and guest user space cannot make a system call, so no /init prints its line; the [nested] rows compare on the nested test host; row 6 times govmm's own boot here"})
		}
		if s.want("10") {
			s.add(bench.Row{ID: "10", Name: "guest→host TCP over a tap, MiB/s, govmm ÷ QEMU [host]", Govmm: "n/a (guest user space needed)", Ref: "n/a", Ratio: "-",
				Notes: "kvm_pvm emulates guest ring 0 and guest user space cannot make a system call here, so no busybox nc can send; the [nested] row measures on the nested test host"})
		}
	default:
		s.add(bench.Row{ID: "7-10", Name: "vs QEMU [host]", Govmm: "n/a", Ref: "n/a", Ratio: "-", Notes: "this machine has no /dev/kvm"})
	}
	s.nestedRows()
}

// nestedRows runs this program inside one L1 of the nested test host
// (govmm-nested) with -in-l1 and the selected rows of 7 to 10, relays its
// progress and collects its rows.
func (s *suite) nestedRows() {
	const id, name = "7-10", "vs QEMU [nested]"
	if s.nested == "" {
		p := filepath.Join(s.build, "govmm-nested")
		if _, err := os.Stat(p); err != nil {
			s.add(bench.Row{ID: id, Name: name, Govmm: "skipped", Ref: "skipped", Ratio: "-", Notes: "no govmm-nested (`make nested`, or -nested BIN)"})
			return
		}
		s.nested = p
	}
	nested, err := filepath.Abs(s.nested)
	if err != nil {
		s.broke(id, name, err)
		return
	}
	s.nested = nested
	// The L1 sees this machine's root read-only: the binary must be at a
	// path that outlives `go run`'s temporary directory, and the L1 cannot
	// build anything.
	self, err := os.Executable()
	if err != nil {
		s.broke(id, name, err)
		return
	}
	bin := filepath.Join(s.build, "bench", "govmm-bench")
	if err := copyFile(self, bin); err != nil {
		s.broke(id, name, err)
		return
	}
	var rows []string
	for _, r := range []string{"7", "8", "9", "10"} {
		if s.want(r) {
			rows = append(rows, r)
		}
	}
	args := []string{"-timeout", s.nestedTimeout.String(), "--", bin, "-in-l1", "-rows", strings.Join(rows, ","),
		"-govmm", s.govmm, "-build-dir", "/tmp/govmm-bench-l1", "-boot-runs", strconv.Itoa(s.bootRuns), "-mem-runs", strconv.Itoa(s.memRuns),
		"-net-mib", strconv.Itoa(s.netMiB), "-net-runs", strconv.Itoa(s.netRuns), "-no-install"}
	if kdir := s.testKernelDir(); kdir != "" {
		args = append(args, "-kernel-dir", kdir)
	}
	if ir, err := s.findInitramfs(s.testKernelDir()); err == nil {
		args = append(args, "-initramfs", ir)
	}
	if s.stockDir != "" {
		args = append(args, "-stock-dir", s.stockDir)
	}
	s.progress("rows %s [nested]: %s %s (one L1 boot; its progress follows, marked L1)", strings.Join(rows, ","), s.nested, strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(context.Background(), s.nestedTimeout+2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, s.nested, args...)
	var errb bytes.Buffer
	c.Stderr = &errb
	out, err := c.StdoutPipe()
	if err != nil {
		s.broke(id, name, err)
		return
	}
	if err := c.Start(); err != nil {
		s.broke(id, name, err)
		return
	}
	got := 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if js, ok := strings.CutPrefix(line, l1RowPrefix); ok {
			var r bench.Row
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				s.progress("L1: bad row line %q: %v", line, err)
				continue
			}
			got++
			s.add(r)
			if r.Govmm == "ERROR" || r.Govmm == "failed" {
				s.fails = append(s.fails, fmt.Errorf("row %s (%s): %s", r.ID, r.Name, r.Notes))
			}
			continue
		}
		if strings.TrimSpace(line) != "" {
			s.progress("L1: %s", line)
		}
	}
	io.Copy(io.Discard, out)
	werr := c.Wait()
	if werr != nil {
		err := fmt.Errorf("govmm-nested: %v: %s", werr, tail(errb.String(), 600))
		if got == 0 {
			s.broke(id, name, err)
			return
		}
		// The rows came; a failed row made the inner run exit 1.
		s.progress("rows [nested]: %v", err)
	}
}

// copyFile copies an executable.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// execOutput runs a command and returns its stdout.
func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}

// writeL1Rows prints the rows as result lines for the outer run.
func writeL1Rows(w io.Writer, rows []bench.Row) error {
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s%s\n", l1RowPrefix, b); err != nil {
			return err
		}
	}
	return nil
}
