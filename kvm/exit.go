package kvm

import (
	"encoding/binary"
	"fmt"
)

// ExitReason is kvm_run.exit_reason (KVM_EXIT_*).
type ExitReason uint32

// Exit reasons govmm handles (api.rst 5, "struct kvm_run").
const (
	ExitUnknown       ExitReason = 0
	ExitException     ExitReason = 1
	ExitIO            ExitReason = 2
	ExitHypercall     ExitReason = 3
	ExitDebug         ExitReason = 4
	ExitHLT           ExitReason = 5
	ExitMMIO          ExitReason = 6
	ExitIRQWindowOpen ExitReason = 7
	ExitShutdown      ExitReason = 8
	ExitFailEntry     ExitReason = 9
	ExitIntr          ExitReason = 10
	ExitInternalError ExitReason = 17
	ExitSystemEvent   ExitReason = 24

	// NumExitReasons bounds the reasons govmm counts individually.
	NumExitReasons = 64
)

var exitNames = map[ExitReason]string{
	ExitUnknown: "UNKNOWN", ExitException: "EXCEPTION", ExitIO: "IO", ExitHypercall: "HYPERCALL",
	ExitDebug: "DEBUG", ExitHLT: "HLT", ExitMMIO: "MMIO", ExitIRQWindowOpen: "IRQ_WINDOW_OPEN",
	ExitShutdown: "SHUTDOWN", ExitFailEntry: "FAIL_ENTRY", ExitIntr: "INTR",
	ExitInternalError: "INTERNAL_ERROR", ExitSystemEvent: "SYSTEM_EVENT",
}

// String names the reason without the KVM_EXIT_ prefix.
func (r ExitReason) String() string {
	if n, ok := exitNames[r]; ok {
		return n
	}
	return fmt.Sprintf("EXIT_%d", uint32(r))
}

// Internal error suberrors (KVM_INTERNAL_ERROR_*).
const (
	InternalErrorEmulation      = 1
	InternalErrorSimulEx        = 2
	InternalErrorDeliveryEv     = 3
	InternalErrorUnexpectedExit = 4
)

// System event types (KVM_SYSTEM_EVENT_*).
const (
	SystemEventShutdown = 1
	SystemEventReset    = 2
	SystemEventCrash    = 3
)

// Offsets into struct kvm_run (checked against <linux/kvm.h> in the tests).
const (
	runImmediateExit = 1
	runExitReason    = 8
	runUnion         = 32 // the exit-specific union

	maxInternalData = 16
)

// IOExit is the io member of kvm_run: a port access.
type IOExit struct {
	// Out is true for OUT (guest to device) and false for IN.
	Out  bool
	Size uint8
	Port uint16
	// Count is the number of elements; more than one for rep outs/ins.
	Count uint32
	// Data is Count*Size bytes inside the kvm_run page: read it for OUT,
	// fill it for IN. Element i is Data[i*Size:(i+1)*Size].
	Data []byte
}

// MMIOExit is the mmio member of kvm_run.
type MMIOExit struct {
	Addr  uint64
	Write bool
	// Data is Len bytes inside the kvm_run page: read it for a write, fill
	// it for a read.
	Data []byte
}

// InternalError is the internal member of kvm_run.
type InternalError struct {
	Suberror uint32
	// NData is how many entries of Data are valid.
	NData uint32
	Data  [maxInternalData]uint64
}

// SystemEvent is the system_event member of kvm_run.
type SystemEvent struct {
	Type  uint32
	NData uint32
	Data  [maxInternalData]uint64
}

// FailEntry is the fail_entry member of kvm_run.
type FailEntry struct {
	HardwareReason uint64
	CPU            uint32
}

// Exit is one decoded VM exit. Only the member that matches Reason is set.
type Exit struct {
	Reason      ExitReason
	IO          IOExit
	MMIO        MMIOExit
	Internal    InternalError
	SystemEvent SystemEvent
	FailEntry   FailEntry
}

// decodeExit decodes the kvm_run page into e. It checks every offset and
// length KVM supplies against the page, so a corrupt page is an error and not
// a slice panic.
func decodeExit(run []byte, e *Exit) error {
	le := binary.LittleEndian
	if len(run) < runUnion+256 {
		return fmt.Errorf("kvm_run is %d bytes, too short", len(run))
	}
	e.Reason = ExitReason(le.Uint32(run[runExitReason:]))
	u := run[runUnion:]
	switch e.Reason {
	case ExitIO:
		// struct { __u8 direction; __u8 size; __u16 port; __u32 count; __u64 data_offset; }
		io := &e.IO
		io.Out = u[0] == 1
		io.Size = u[1]
		io.Port = le.Uint16(u[2:])
		io.Count = le.Uint32(u[4:])
		off := le.Uint64(u[8:])
		n := uint64(io.Size) * uint64(io.Count)
		switch io.Size {
		case 1, 2, 4:
		default:
			return fmt.Errorf("KVM_EXIT_IO: bad access size %d", io.Size)
		}
		if io.Count == 0 || off > uint64(len(run)) || n > uint64(len(run))-off {
			return fmt.Errorf("KVM_EXIT_IO: data [%#x, +%d) outside kvm_run", off, n)
		}
		io.Data = run[off : off+n : off+n]
	case ExitMMIO:
		// struct { __u64 phys_addr; __u8 data[8]; __u32 len; __u8 is_write; }
		m := &e.MMIO
		m.Addr = le.Uint64(u[0:])
		n := le.Uint32(u[16:])
		if n == 0 || n > 8 {
			return fmt.Errorf("KVM_EXIT_MMIO: bad length %d", n)
		}
		m.Write = u[20] != 0
		m.Data = u[8 : 8+n : 8+n]
	case ExitInternalError:
		in := &e.Internal
		in.Suberror = le.Uint32(u[0:])
		in.NData = min(le.Uint32(u[4:]), maxInternalData)
		for i := range in.NData {
			in.Data[i] = le.Uint64(u[8+8*i:])
		}
	case ExitSystemEvent:
		s := &e.SystemEvent
		s.Type = le.Uint32(u[0:])
		s.NData = min(le.Uint32(u[4:]), maxInternalData)
		for i := range s.NData {
			s.Data[i] = le.Uint64(u[8+8*i:])
		}
	case ExitFailEntry:
		e.FailEntry.HardwareReason = le.Uint64(u[0:])
		e.FailEntry.CPU = le.Uint32(u[8:])
	}
	return nil
}
