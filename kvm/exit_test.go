package kvm

import (
	"encoding/binary"
	"strings"
	"testing"
)

// newRun returns a kvm_run page with the given exit reason. Offsets follow
// struct kvm_run in <linux/kvm.h>: exit_reason at 8, the union at 32.
func newRun(reason uint32) []byte {
	run := make([]byte, 4096)
	binary.LittleEndian.PutUint32(run[8:], reason)
	return run
}

func TestDecodeIOOutRep(t *testing.T) {
	run := newRun(2) // KVM_EXIT_IO
	u := run[32:]
	u[0] = 1                                    // KVM_EXIT_IO_OUT
	u[1] = 1                                    // size
	binary.LittleEndian.PutUint16(u[2:], 0x3f8) // port
	binary.LittleEndian.PutUint32(u[4:], 5)     // count: rep outsb of 5 bytes
	binary.LittleEndian.PutUint64(u[8:], 0x1000-5)
	copy(run[0x1000-5:], "hello")
	var e Exit
	if err := decodeExit(run, &e); err != nil {
		t.Fatal(err)
	}
	if e.Reason != ExitIO || !e.IO.Out || e.IO.Size != 1 || e.IO.Port != 0x3f8 || e.IO.Count != 5 {
		t.Fatalf("decoded %+v", e.IO)
	}
	if string(e.IO.Data) != "hello" {
		t.Fatalf("data %q, want hello", e.IO.Data)
	}
	// The data must alias kvm_run, so that IN results reach the guest.
	e.IO.Data[0] = 'H'
	if run[0x1000-5] != 'H' {
		t.Fatal("IO data does not alias the kvm_run page")
	}
}

func TestDecodeIOIn(t *testing.T) {
	run := newRun(2)
	u := run[32:]
	u[0] = 0 // KVM_EXIT_IO_IN
	u[1] = 2
	binary.LittleEndian.PutUint16(u[2:], 0xcfc)
	binary.LittleEndian.PutUint32(u[4:], 1)
	binary.LittleEndian.PutUint64(u[8:], 0x800)
	var e Exit
	if err := decodeExit(run, &e); err != nil {
		t.Fatal(err)
	}
	if e.IO.Out || e.IO.Port != 0xcfc || len(e.IO.Data) != 2 {
		t.Fatalf("decoded %+v", e.IO)
	}
}

func TestDecodeIORejectsBadPage(t *testing.T) {
	for name, set := range map[string]func(u []byte){
		"offset past page": func(u []byte) { binary.LittleEndian.PutUint64(u[8:], 4096) },
		"count overflows":  func(u []byte) { binary.LittleEndian.PutUint32(u[4:], 0xffffffff) },
		"size 3":           func(u []byte) { u[1] = 3 },
		"count 0":          func(u []byte) { binary.LittleEndian.PutUint32(u[4:], 0) },
	} {
		run := newRun(2)
		u := run[32:]
		u[1] = 1
		binary.LittleEndian.PutUint32(u[4:], 1)
		binary.LittleEndian.PutUint64(u[8:], 0x800)
		set(u)
		var e Exit
		if err := decodeExit(run, &e); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDecodeMMIO(t *testing.T) {
	run := newRun(6) // KVM_EXIT_MMIO
	u := run[32:]
	binary.LittleEndian.PutUint64(u[0:], 0xd0000010) // phys_addr
	copy(u[8:], []byte{0x78, 0x56, 0x34, 0x12})      // data
	binary.LittleEndian.PutUint32(u[16:], 4)         // len at kvm_run+0x30
	u[20] = 1                                        // is_write at kvm_run+0x34
	var e Exit
	if err := decodeExit(run, &e); err != nil {
		t.Fatal(err)
	}
	if e.MMIO.Addr != 0xd0000010 || !e.MMIO.Write || binary.LittleEndian.Uint32(e.MMIO.Data) != 0x12345678 {
		t.Fatalf("decoded %+v", e.MMIO)
	}
	binary.LittleEndian.PutUint32(u[16:], 9)
	if err := decodeExit(run, &e); err == nil || !strings.Contains(err.Error(), "length") {
		t.Fatalf("len 9 accepted: %v", err)
	}
}

func TestDecodeInternalError(t *testing.T) {
	run := newRun(17) // KVM_EXIT_INTERNAL_ERROR
	u := run[32:]
	binary.LittleEndian.PutUint32(u[0:], 1) // KVM_INTERNAL_ERROR_EMULATION
	binary.LittleEndian.PutUint32(u[4:], 2)
	binary.LittleEndian.PutUint64(u[8:], 0xaa)  // data[0] at kvm_run+0x28
	binary.LittleEndian.PutUint64(u[16:], 0xbb) // data[1]
	var e Exit
	if err := decodeExit(run, &e); err != nil {
		t.Fatal(err)
	}
	if e.Internal.Suberror != InternalErrorEmulation || e.Internal.NData != 2 ||
		e.Internal.Data[0] != 0xaa || e.Internal.Data[1] != 0xbb {
		t.Fatalf("decoded %+v", e.Internal)
	}
	binary.LittleEndian.PutUint32(u[4:], 1000) // hostile ndata is clamped
	if err := decodeExit(run, &e); err != nil || e.Internal.NData != 16 {
		t.Fatalf("ndata 1000: %v, %d", err, e.Internal.NData)
	}
}

func TestDecodeSystemEventAndFailEntry(t *testing.T) {
	run := newRun(24)                          // KVM_EXIT_SYSTEM_EVENT
	binary.LittleEndian.PutUint32(run[32:], 2) // KVM_SYSTEM_EVENT_RESET
	var e Exit
	if err := decodeExit(run, &e); err != nil || e.Reason != ExitSystemEvent || e.SystemEvent.Type != SystemEventReset {
		t.Fatalf("system event: %v %+v", err, e)
	}
	run = newRun(9) // KVM_EXIT_FAIL_ENTRY
	binary.LittleEndian.PutUint64(run[32:], 0x80000021)
	binary.LittleEndian.PutUint32(run[40:], 3) // fail_entry.cpu at kvm_run+0x28
	if err := decodeExit(run, &e); err != nil || e.FailEntry.HardwareReason != 0x80000021 || e.FailEntry.CPU != 3 {
		t.Fatalf("fail entry: %v %+v", err, e.FailEntry)
	}
	if ExitShutdown.String() != "SHUTDOWN" || ExitReason(99).String() != "EXIT_99" {
		t.Fatal("exit names")
	}
}

func FuzzDecodeExit(f *testing.F) {
	f.Add(uint32(2), []byte{1, 1, 0xf8, 3, 1, 0, 0, 0, 0, 8})
	f.Add(uint32(6), []byte{0, 0, 0, 0xd0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, reason uint32, union []byte) {
		run := newRun(reason)
		copy(run[32:], union)
		var e Exit
		if decodeExit(run, &e) == nil && e.Reason == ExitIO {
			if len(e.IO.Data) != int(e.IO.Size)*int(e.IO.Count) {
				t.Fatal("IO data length mismatch")
			}
		}
	})
}
