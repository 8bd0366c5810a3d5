// Package compat makes Linux guests run on hosts whose KVM emulates guest
// ring 0 instruction by instruction (the kvm_pvm module: no VT-x/AMD-V). Such
// a host lacks a few instructions, which the guest must be told not to use
// (CPUID masks, kernel parameters) or which govmm completes for it (fix-ups).
//
// Every measure here was verified on such a host; docs/HOST-KVM.md in the
// repository lists them with the evidence. On a host with hardware
// virtualization none of it is applied unless forced with -compat on.
package compat

import (
	"fmt"
	"os"
	"strings"
)

// Mode is the -compat flag: auto, on or off.
type Mode int

// Compatibility modes.
const (
	Auto Mode = iota
	On
	Off
)

// ParseMode parses a -compat value.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "on":
		return On, nil
	case "off":
		return Off, nil
	}
	return Auto, fmt.Errorf("-compat: %q is not auto, on or off", s)
}

func (m Mode) String() string { return [...]string{"auto", "on", "off"}[m] }

// HostInfo describes how the host runs guest ring 0.
type HostInfo struct {
	// EmulatedRing0 is true when guest ring 0 runs in KVM's instruction
	// emulator rather than in hardware.
	EmulatedRing0 bool
	// Why is a short human-readable reason for the verdict.
	Why string
}

// sysRoot is "/" except in tests.
var sysRoot = "/"

// DetectHost decides from /sys and /proc, without running a guest, whether
// guest ring 0 is emulated. kvm_pvm runs guests without VT-x/AMD-V; a kvm
// with neither vmx nor svm in the CPU flags cannot be hardware-assisted.
func DetectHost() HostInfo {
	if _, err := os.Stat(sysRoot + "sys/module/kvm_pvm"); err == nil {
		return HostInfo{true, "kvm_pvm module loaded (pagetable-based KVM without VT-x/AMD-V)"}
	}
	if b, err := os.ReadFile(sysRoot + "proc/cpuinfo"); err == nil {
		flags := cpuFlags(string(b))
		if !flags["vmx"] && !flags["svm"] {
			return HostInfo{true, "CPU flags have neither vmx nor svm"}
		}
		if flags["vmx"] {
			return HostInfo{false, "hardware virtualization (vmx)"}
		}
		return HostInfo{false, "hardware virtualization (svm)"}
	}
	return HostInfo{false, "no kvm_pvm module; /proc/cpuinfo unreadable, assuming hardware virtualization"}
}

// cpuFlags returns the flags of the first "flags" line of /proc/cpuinfo.
func cpuFlags(cpuinfo string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "flags" {
			for _, f := range strings.Fields(v) {
				out[f] = true
			}
			break
		}
	}
	return out
}

// Enabled resolves a mode against the host.
func Enabled(m Mode, h HostInfo) bool {
	switch m {
	case On:
		return true
	case Off:
		return false
	}
	return h.EmulatedRing0
}
