package machine

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/govmm/govmm/compat"
	"github.com/govmm/govmm/kvm"
	"golang.org/x/sys/unix"
)

// vcpu is one VCPU and its run loop. Only its own goroutine touches cpu
// while the loop runs; other goroutines use tid and the atomics.
type vcpu struct {
	m   *Machine
	cpu *kvm.VCPU
	id  int
	// tid is the OS thread running the loop, for signals; 0 before start.
	tid atomic.Int32
	// sampleReq asks the loop to sample its registers at the next stop.
	sampleReq atomic.Bool

	// lastRIP is the sampler's memory (loop goroutine only); haltedSamples counts consecutive halted-with-IF=0 samples and is read by other VCPUs.
	lastRIP uint64
	// stuckSamples counts consecutive samples at lastRIP (loop goroutine only).
	stuckSamples  int
	haltedSamples atomic.Int32

	// last is the RIP read at the newest sampler kick (loop goroutine
	// only): a crash report's "last known RIP" when KVM reset the vCPU.
	last ripSample

	stats vcpuStats
	// profile counts sampled RIPs when Config.Profile is set (loop goroutine only).
	profile     map[uint64]uint64
	profileTick int
}

// kickSignal interrupts KVM_RUN on a VCPU thread. Go's runtime catches
// SIGUSR1 and ignores it unless os/signal asks for it, and KVM_RUN returns
// EINTR: exactly a kick.
const kickSignal = unix.SIGUSR1

func (m *Machine) createVCPUs() error {
	base, err := m.sys.SupportedCPUID()
	if err != nil {
		return err
	}
	if m.compat {
		for _, c := range compat.AdjustCPUID(base) {
			m.logf("compat: %s", c)
		}
	}
	for id := 0; id < m.cfg.CPUs; id++ {
		cpu, err := m.vm.CreateVCPU(id)
		if err != nil {
			return err
		}
		v := &vcpu{m: m, cpu: cpu, id: id}
		v.stats.fixups = map[string]uint64{}
		if m.cfg.Profile {
			v.profile = map[uint64]uint64{}
		}
		m.vcpus = append(m.vcpus, v)
		if err := cpu.SetCPUID(cpuidFor(base, id, m.cfg.CPUs)); err != nil {
			return err
		}
	}
	return nil
}

// stop makes the loop return: immediate_exit covers the window before
// KVM_RUN, the signal the time inside it (api.rst, KVM_CAP_IMMEDIATE_EXIT).
func (v *vcpu) stop() {
	v.cpu.SetImmediateExit(true)
	v.kick()
}

func (v *vcpu) kick() {
	if tid := v.tid.Load(); tid != 0 {
		unix.Tgkill(unix.Getpid(), int(tid), kickSignal)
	}
}

// loop runs the VCPU until the machine stops. It owns its OS thread: kick
// and stop aim their signal at that thread, and KVM wants a VCPU's ioctls
// from one thread (api.rst section 1: after a switch "the first ioctl ...
// could see a performance impact": kvm_main.c then waits in synchronize_rcu).
func (v *vcpu) loop() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	v.tid.Store(int32(unix.Gettid()))
	defer v.tid.Store(0)
	m := v.m
	timed := m.cfg.Stats
	pace := newPacer(rawRunAllowed)
	for !m.stopping.Load() {
		var exit *kvm.Exit
		var err error
		if pace.raw {
			exit, err = v.cpu.RunHot()
		} else {
			exit, err = v.cpu.Run()
		}
		var t0 time.Time
		if timed {
			t0 = time.Now()
		}
		// First, before anything looks at this exit: apply the writes
		// KVM coalesced, so that a read that exited sees every write
		// the guest made before it (coalesce.go).
		if m.coalesce.pending() {
			m.coalesce.drainNow()
		}
		if err != nil {
			m.finish(Result{Code: ExitError, Reason: err.Error()})
			return
		}
		r := v.handle(exit)
		m.coalesce.settle()
		if timed {
			d := uint64(time.Since(t0))
			v.stats.nanos[exit.Reason%kvm.NumExitReasons] += d
			if r != nil {
				r.nanos.Add(d)
			}
		}
		v.stats.count[exit.Reason%kvm.NumExitReasons]++
		pace.raw = pace.rawNext(exit.Reason)
		pace.tick()
	}
}

// handle dispatches one exit and returns the bus range it went to, if any.
func (v *vcpu) handle(exit *kvm.Exit) *busRange {
	m := v.m
	switch exit.Reason {
	case kvm.ExitIO:
		io := &exit.IO
		// rep outs/ins: Count elements of Size bytes, each its own access.
		var r *busRange
		n := int(io.Size)
		for i := 0; i < int(io.Count); i++ {
			d := io.Data[i*n : i*n+n]
			if io.Out {
				r = m.pio.Write(uint64(io.Port), d)
			} else {
				r = m.pio.Read(uint64(io.Port), d)
			}
		}
		if r != nil {
			r.accesses.Add(uint64(io.Count))
		}
		return r
	case kvm.ExitMMIO:
		var r *busRange
		if exit.MMIO.Write {
			r = m.mmio.Write(exit.MMIO.Addr, exit.MMIO.Data)
		} else {
			r = m.mmio.Read(exit.MMIO.Addr, exit.MMIO.Data)
		}
		if r != nil {
			r.accesses.Add(1)
		}
		return r
	case kvm.ExitIntr:
		if v.sampleReq.Swap(false) {
			v.noteRIP()
			v.sample()
		}
	case kvm.ExitHLT:
		// Only without an in-kernel LAPIC does HLT reach user space.
		v.crash("guest halted (KVM_EXIT_HLT)")
	case kvm.ExitShutdown:
		v.finishCrash("guest triple fault (KVM_EXIT_SHUTDOWN)", true)
	case kvm.ExitSystemEvent:
		switch exit.SystemEvent.Type {
		case kvm.SystemEventShutdown:
			m.finish(Result{Code: ExitOK, Reason: "guest powered off (system event)"})
		case kvm.SystemEventReset:
			m.finish(Result{Code: ExitOK, Reason: "guest reset (system event)", Reset: true})
		case kvm.SystemEventCrash:
			m.finish(Result{Code: ExitPanic, Reason: "guest crash (system event)"})
		default:
			v.crash(fmt.Sprintf("unknown system event %d", exit.SystemEvent.Type))
		}
	case kvm.ExitInternalError:
		v.internalError(&exit.Internal)
	case kvm.ExitFailEntry:
		v.crash(fmt.Sprintf("VM entry failed (hardware reason %#x)", exit.FailEntry.HardwareReason))
	default:
		v.crash(fmt.Sprintf("unhandled exit %v", exit.Reason))
	}
	return nil
}

// internalError handles KVM_EXIT_INTERNAL_ERROR: with compat on, an
// instruction the emulator lacks may have a fix-up; anything else is a crash.
func (v *vcpu) internalError(in *kvm.InternalError) {
	if in.Suberror == kvm.InternalErrorEmulation && v.m.compat {
		if code, mode, err := v.codeAtRIP(); err == nil {
			if a, ok := compat.OnEmulationFailure(code, mode); ok {
				if err := v.apply(a); err == nil {
					v.stats.fixups[a.Name]++
					return
				}
			}
		}
	}
	what := fmt.Sprintf("KVM internal error, suberror %d", in.Suberror)
	if in.Suberror == kvm.InternalErrorEmulation {
		what = "KVM could not emulate an instruction (internal error, suberror 1)"
	}
	v.crash(what)
}

// apply performs a fix-up: set RAX if asked, skip the instruction, inject.
func (v *vcpu) apply(a compat.Action) error {
	regs, err := v.cpu.Regs()
	if err != nil {
		return err
	}
	regs.RIP += uint64(a.Skip)
	if a.SetRAX {
		regs.RAX = a.RAX
	}
	if err := v.cpu.SetRegs(regs); err != nil {
		return err
	}
	if a.Inject >= 0 {
		return v.cpu.InjectException(uint8(a.Inject))
	}
	return nil
}

// crash ends the run with ExitCrash and a report of where the guest was.
func (v *vcpu) crash(what string) { v.finishCrash(what, false) }

// finishCrash is crash; tripleFault says the exit was KVM_EXIT_SHUTDOWN,
// after which KVM on AMD has reset the registers (see crashReport).
func (v *vcpu) finishCrash(what string, tripleFault bool) {
	v.m.finish(Result{Code: ExitCrash, Reason: what, Detail: v.report(tripleFault)})
}

// report reads the VCPU's state for a crash message (crashReport words it):
// registers, the instruction bytes at RIP, the last RIP sample.
func (v *vcpu) report(tripleFault bool) string {
	s := crashState{vcpu: v.id, tripleFault: tripleFault, last: v.last, kernel: v.m.cfg.Kernel != "", compat: v.m.compat}
	if !s.last.at.IsZero() {
		s.lastAge = time.Since(s.last.at)
	}
	if s.regs, s.regsErr = v.cpu.Regs(); s.regsErr == nil {
		s.sregs, s.sregsErr = v.cpu.Sregs()
		s.code, s.mode, s.codeErr = v.codeAtRIP()
	}
	return crashReport(s)
}

// noteRIP records the RIP at a sampler kick, for a crash report that cannot
// trust the registers (one KVM_GET_REGS per sample period).
func (v *vcpu) noteRIP() {
	if regs, err := v.cpu.Regs(); err == nil {
		v.last = ripSample{rip: regs.RIP, at: time.Now()}
	}
}
