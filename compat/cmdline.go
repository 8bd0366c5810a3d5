package compat

// kernelParams are the Linux parameters that keep the kernel away from
// instructions this host's emulator lacks, each verified to get past its
// instruction. CPUID.1:ECX.XSAVE is not honoured by the host, so XSAVE is
// switched off by parameter.
var kernelParams = []struct{ param, why string }{
	{"noxsave", "xsave/xrstor are not emulated (FPU init)"},
	{"clearcpuid=129,137,147,148,151,153,308", "PCLMULQDQ, SSSE3, SSE4.1, SSE4.2, POPCNT, AES and SMAP (clac/stac) are not emulated"},
	{"nopcid", "PCID/INVPCID paths"},
	{"lapic=notscdeadline", "the local APIC timer's TSC-deadline mode never fires on this host: time stops once the kernel switches to it"},
	{"tsc=reliable", "the emulated TSC watchdog would otherwise mark the TSC unstable"},
	{"no_timer_check", "the emulated-ring-0 timer check is too slow to pass"},
	{"cryptomgr.notests", "crypto self-tests take minutes under emulation"},
}

// KernelParams returns the parameters to append to the kernel command line,
// with a reason for each, in a fixed order.
func KernelParams() (params, reasons []string) {
	for _, p := range kernelParams {
		params = append(params, p.param)
		reasons = append(reasons, p.param+": "+p.why)
	}
	return params, reasons
}
