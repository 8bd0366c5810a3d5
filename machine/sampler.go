package machine

import (
	"time"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/kvm"
)

// samplePeriod is how often the sampler looks at every VCPU. Two samples in a
// row decide a hang, so a halted guest is reported within about a second.
const samplePeriod = 500 * time.Millisecond

// stuckLogSamples is how many samples at one RIP make -v log it: long
// emulated rep instructions legitimately span a sample or two.
const stuckLogSamples = 4

// startSampler periodically interrupts each VCPU so that its loop samples
// its own registers (only the VCPU's thread may read them). It returns a
// function that stops the sampler.
func (m *Machine) startSampler() (stop func()) {
	period := samplePeriod
	if m.cfg.Profile {
		period /= profilePeriodDivisor
	}
	t := time.NewTicker(period)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				for _, v := range m.vcpus {
					v.sampleReq.Store(true)
					v.kick()
				}
			}
		}
	}()
	return func() { t.Stop(); close(quit) }
}

// sample runs on the VCPU's own thread after a kick. It detects:
//   - a guest halted with interrupts disabled: nothing but an NMI can wake
//     it, so it is a crash (for example the kernel's halt after a failed
//     power-off, or a raw guest's cli; hlt);
//   - with compat on, an instruction that never completes on this host,
//     which compat.OnStuck completes for the guest.
func (v *vcpu) sample() {
	regs, err := v.cpu.Regs()
	if err != nil {
		return
	}
	v.recordRIP(regs.RIP)
	if v.profile != nil {
		// Hang and stuck-RIP checks keep their own pace.
		if v.profileTick++; v.profileTick%profilePeriodDivisor != 0 {
			return
		}
	}
	state, err := v.cpu.MPState()
	if err == nil && state != kvm.MPStateRunnable && state != kvm.MPStateHalted {
		// An application processor waiting for INIT/SIPI: not started yet.
		v.lastRIP, v.stuckSamples = 0, 0
		return
	}
	if err == nil && state == kvm.MPStateHalted && regs.RFLAGS&(1<<9) == 0 {
		if v.haltedSamples.Add(1) >= 2 && v.m.allHaltedForever(v) {
			v.crash("guest halted with interrupts disabled")
		}
		return
	}
	v.haltedSamples.Store(0)
	if regs.RIP != v.lastRIP {
		v.lastRIP, v.stuckSamples = regs.RIP, 0
		return
	}
	v.stuckSamples++
	if !v.m.compat && v.stuckSamples != stuckLogSamples {
		return
	}
	code, mode, err := v.codeAtRIP()
	if err != nil {
		v.m.logf("vcpu %d: RIP %#x unchanged, code unreadable: %v", v.id, regs.RIP, err)
		return
	}
	a, ok := compat.OnStuck(code, mode)
	if !ok || !v.m.compat {
		if v.stuckSamples == stuckLogSamples {
			v.m.logf("vcpu %d: RIP %#x unchanged for %v: %s", v.id, regs.RIP, stuckLogSamples*samplePeriod, compat.Describe(code, mode))
		}
		return
	}
	if err := v.apply(a); err != nil {
		v.m.logf("compat: vcpu %d: %s at RIP %#x: %v", v.id, a.Name, regs.RIP, err)
		return
	}
	v.stats.fixups[a.Name]++
	v.m.logf("compat: vcpu %d: completed %s at RIP %#x (RAX=-KVM_ENOSYS)", v.id, a.Name, regs.RIP)
}

// allHaltedForever reports whether every VCPU except self (already checked)
// was last seen halted with interrupts off. One halted CPU of many is just
// an offline CPU.
func (m *Machine) allHaltedForever(self *vcpu) bool {
	for _, v := range m.vcpus {
		if v != self && v.haltedSamples.Load() < 2 {
			return false
		}
	}
	return true
}
