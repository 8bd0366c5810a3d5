package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kvmTrace counts the host kernel's KVM exits of every VM, whatever VMM
// runs it, with in-kernel histograms on two tracepoints (hist triggers,
// Documentation/trace/histogram.rst): kvm:kvm_exit (every exit from the
// guest to KVM, by the hardware's exit code) and kvm:kvm_userspace_exit
// (every return of KVM_RUN to the VMM, by KVM_EXIT_* reason). So govmm and
// QEMU are counted by the same, third party. Only one VM may run at a time
// while counting.
type kvmTrace struct {
	dir    string // tracefs
	vendor string // "svm" or "vmx": how to name hardware exit codes
}

// traceEvents are the tracepoints and the field each histogram is keyed on.
var traceEvents = []struct{ event, key string }{
	{"kvm_exit", "exit_reason"},
	{"kvm_userspace_exit", "reason"},
}

// newKVMTrace finds tracefs (mounting it at /sys/kernel/tracing when it
// is not mounted: the nested host's L1 has a fresh /sys) and checks that
// the KVM tracepoints take hist triggers.
func newKVMTrace() (*kvmTrace, error) {
	ok := func(d string) bool {
		_, err := os.Stat(filepath.Join(d, "events/kvm/kvm_exit/trigger"))
		return err == nil
	}
	t := &kvmTrace{}
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if ok(d) {
			t.dir = d
			break
		}
	}
	if t.dir == "" {
		d := "/sys/kernel/tracing"
		if err := unix.Mount("nodev", d, "tracefs", 0, ""); err != nil || !ok(d) {
			return nil, fmt.Errorf("no tracefs with kvm tracepoints (mount tracefs at %s: %v)", d, err)
		}
		t.dir = d
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		switch f := string(b); {
		case strings.Contains(f, " svm"):
			t.vendor = "svm"
		case strings.Contains(f, " vmx"):
			t.vendor = "vmx"
		}
	}
	if err := t.reset(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *kvmTrace) trigger(event string) string {
	return filepath.Join(t.dir, "events/kvm", event, "trigger")
}

// reset starts both histograms from zero: it removes each trigger and
// adds it again.
func (t *kvmTrace) reset() error {
	t.close()
	for _, e := range traceEvents {
		if err := os.WriteFile(t.trigger(e.event), []byte("hist:keys="+e.key+"\n"), 0); err != nil {
			return fmt.Errorf("hist trigger on kvm:%s: %w", e.event, err)
		}
	}
	return nil
}

// close removes the triggers (a missing one is no error).
func (t *kvmTrace) close() {
	for _, e := range traceEvents {
		os.WriteFile(t.trigger(e.event), []byte("!hist:keys="+e.key+"\n"), 0)
	}
}

// read returns the counts since the last reset: hardware exits by name
// and returns to user space by KVM_EXIT_* name.
func (t *kvmTrace) read() (hw, user map[string]uint64, err error) {
	var maps [2]map[string]uint64
	for i, e := range traceEvents {
		b, err := os.ReadFile(filepath.Join(t.dir, "events/kvm", e.event, "hist"))
		if err != nil {
			return nil, nil, err
		}
		raw, err := parseHist(string(b), e.key)
		if err != nil {
			return nil, nil, fmt.Errorf("kvm:%s hist: %w", e.event, err)
		}
		m := map[string]uint64{}
		for code, n := range raw {
			if i == 0 {
				m[t.hwName(code)] += n
			} else {
				m[userExitName(code)] += n
			}
		}
		maps[i] = m
	}
	return maps[0], maps[1], nil
}

// histLine is one entry of a hist file: "{ key:  value } hitcount:  N".
var histLine = regexp.MustCompile(`\{\s*(\w+):\s*(\d+)\s*\}\s*hitcount:\s*(\d+)`)

// parseHist parses a tracepoint's hist file keyed on one numeric field.
func parseHist(s, key string) (map[uint64]uint64, error) {
	if !strings.Contains(s, "Totals:") {
		return nil, errors.New("no Totals: the trigger is not active")
	}
	m := map[uint64]uint64{}
	for _, x := range histLine.FindAllStringSubmatch(s, -1) {
		if x[1] != key {
			return nil, fmt.Errorf("key %q, want %q", x[1], key)
		}
		k, err1 := strconv.ParseUint(x[2], 10, 64)
		n, err2 := strconv.ParseUint(x[3], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("cannot parse %q", x[0])
		}
		m[k] += n
	}
	return m, nil
}

// svmExits and vmxExits name the common hardware exit codes (AMD APM vol.
// 2, appendix C; Intel SDM vol. 3, appendix C).
var (
	svmExits = map[uint64]string{0x60: "intr", 0x61: "nmi", 0x64: "vintr", 0x6e: "rdtsc", 0x72: "cpuid", 0x78: "hlt",
		0x7b: "io", 0x7c: "msr", 0x7f: "shutdown", 0x81: "vmmcall", 0x400: "npf", 0x401: "avic_ipi", 0x402: "avic_access"}
	vmxExits = map[uint64]string{0: "exception", 1: "extint", 7: "irq_window", 10: "cpuid", 12: "hlt", 18: "vmcall",
		28: "cr", 30: "io", 31: "rdmsr", 32: "wrmsr", 48: "ept_violation", 49: "ept_misconfig", 52: "preempt_timer", 56: "apic_write"}
)

func (t *kvmTrace) hwName(code uint64) string {
	names := svmExits
	if t.vendor == "vmx" {
		names = vmxExits
	}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("%#x", code)
}

// userExitName names a KVM_EXIT_* reason (include/uapi/linux/kvm.h) as
// govmm -stats does.
func userExitName(code uint64) string {
	names := map[uint64]string{0: "UNKNOWN", 12: "TPR_ACCESS", 2: "IO", 5: "HLT", 6: "MMIO", 7: "IRQ_WINDOW_OPEN", 8: "SHUTDOWN", 9: "FAIL_ENTRY",
		10: "INTR", 17: "INTERNAL_ERROR", 24: "SYSTEM_EVENT"}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("exit%d", code)
}
