//go:build kvm

package machine

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/pci"
	"github.com/govmm/govmm/devices/virtio"
)

// Hostile guests: small CPL-3 raw guests (hostile_asm_kvm_test.go encodes
// them) that attack govmm's devices the way a malicious or broken guest
// kernel could. Each asserts that govmm neither panics nor hangs: Run ends
// the way the guest chose (power-off, or the timeout), Close succeeds, and
// the devices still answer afterwards.

// Slots of the virtio devices with Config{RNG: true, VirtioConsole: true}:
// the host bridge has 0, pvpanic 1, then the RNG and the console.
const (
	hostileRNGSlot     = 2
	hostileConsoleSlot = 3
)

// runHostile runs img with cfg's devices for at most timeout, calls check
// (if not nil) on the stopped machine, then closes the machine and fails the
// test if Close fails. It returns the result, the console and the closed
// machine (its counters stay readable).
func runHostile(t *testing.T, cfg Config, img []byte, timeout time.Duration, check ...func(*Machine)) (Result, string, *Machine) {
	t.Helper()
	requireKVM(t)
	var out bytes.Buffer
	cfg.MemSize = 16 << 20
	cfg.RawImage = img
	cfg.RawMode = RawUser
	cfg.Console = &out
	var log bytes.Buffer
	cfg.Log = &log
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			m.Close()
		}
	}()
	for _, p := range m.devs.pciDevs {
		switch {
		case strings.HasPrefix(p.name, "virtio-rng") && p.slot != hostileRNGSlot,
			strings.HasPrefix(p.name, "virtio-console") && p.slot != hostileConsoleSlot:
			t.Fatalf("%s is in slot %d: the guests assume RNG %d, console %d", p.name, p.slot, hostileRNGSlot, hostileConsoleSlot)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res := m.Run(ctx)
	t.Logf("run took %v: %v", time.Since(start).Round(time.Millisecond), res)
	for _, c := range check {
		c(m)
	}
	if testing.Verbose() {
		t.Logf("govmm log:\n%s", log.String())
	}
	closed = true
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return res, out.String(), m
}

// hostileTransport returns the virtio transport in slot.
func hostileTransport(t *testing.T, m *Machine, slot uint8) *virtio.PCI {
	t.Helper()
	for _, p := range m.devs.pciDevs {
		if p.slot == slot {
			if v, ok := p.dev.(*virtio.PCI); ok {
				return v
			}
		}
	}
	t.Fatalf("no virtio device in slot %d", slot)
	return nil
}

// TestHostilePCIConfigSweep attacks configuration mechanism #1: every port
// 0xCF8-0xCFF read and written with every size (including dword accesses
// that run past 0xCFF), then, for every slot 0-31 and every register, a
// read and an all-ones write of every size at every byte offset through
// 0xCFC-0xCFF (so also accesses that cross the dword). Afterwards the host
// bridge and the RNG still identify themselves.
func TestHostilePCIConfigSweep(t *testing.T) {
	a := newX86()
	// Every port, every size, read then write all-ones, CONFIG_ADDRESS
	// re-armed each time (a dword write to 0xCF8 changes it).
	for p := uint16(0xcf8); p < 0xd00; p++ {
		for _, size := range []int{1, 2, 4} {
			a.cfgSelect(0, 0)
			a.movDX(p).in(size)
			a.movImm(rAX, 0xffffffff).out(size)
		}
	}
	// ebx walks CONFIG_ADDRESS over bus 0, function 0, slots 0-31,
	// registers 0-0xFC.
	a.movImm(rBX, 0x80000000)
	a.label("reg")
	for po := uint16(0); po < 4; po++ {
		for _, size := range []int{1, 2, 4} {
			a.movDX(0xcf8).movReg(rAX, rBX).out(4)
			a.movDX(0xcfc + po).in(size)
			a.movImm(rAX, 0xffffffff).out(size)
		}
	}
	a.addImm(rBX, 4)
	a.testImm(rBX, 0x700) // carried into the function number: next slot
	a.jz("same-slot")
	a.addImm(rBX, 0x700)
	a.label("same-slot")
	a.cmpImm(rBX, 0x80010000)
	a.jb("reg")
	// The host bridge's and the RNG's vendor and device IDs.
	a.cfgRead(0, 0, 4).printEAX(4)
	a.cfgRead(hostileRNGSlot, 0, 4).printEAX(4)
	a.powerOff()

	res, out, m := runHostile(t, Config{RNG: true}, a.code(), 30*time.Second)
	if res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	ids := binary.LittleEndian.AppendUint16(nil, pci.HostBridgeVendorID)
	ids = binary.LittleEndian.AppendUint16(ids, pci.HostBridgeDeviceID)
	ids = binary.LittleEndian.AppendUint16(ids, virtio.PCIVendorID)
	ids = binary.LittleEndian.AppendUint16(ids, virtio.PCIDeviceIDBase+virtio.DeviceIDEntropy)
	want := string(ids)
	if out != want {
		t.Fatalf("IDs after the sweep % x, want % x", out, want)
	}
	t.Logf("pci-config accesses: %d", accessesOf(m, "pci-config"))
}

// TestHostileBARMoves moves virtio BARs where they must not go: the RNG's
// BAR 0 over RAM at address 0 (then accessed), the console's BAR 0 onto the
// RNG's (two devices' notify addresses collide in KVM's ioeventfds), onto
// an MSI-X BAR, above 4 GiB and onto the local APIC, with memory decoding
// on and off. Restored, both devices answer at their BARs again and every
// doorbell is bound to KVM again.
func TestHostileBARMoves(t *testing.T) {
	const rng, con = hostileRNGSlot, hostileConsoleSlot
	a := newX86()
	bar := func(slot, reg uint32, r int) {
		a.cfgRead(slot, reg, 4).andImm(rAX, ^uint32(0xf)).movReg(r, rAX)
	}
	bar(rng, 0x10, rSI) // esi: the RNG's BAR 0
	bar(con, 0x10, rDI) // edi: the console's BAR 0
	bar(rng, 0x18, rBP) // ebp: the RNG's MSI-X BAR
	poke := func(base int) {
		a.movReg(rBX, base)
		a.load(4, virtio.CommonNumQueues&^3).store(4, virtio.CommonNumQueues&^3)
		a.load(1, virtio.CommonDeviceStatus)
		a.movImm(rAX, 0).store(2, 0x3000) // queue 0's doorbell
		a.load(8, 0).store(8, 0)
	}
	// The console's BAR 0 over RAM at 0, memory decoding on.
	a.cfgWrite(con, 0x10, 4, 0).cfgWrite(con, 0x14, 4, 0).cfgWrite(con, 0x04, 2, 0x6)
	a.movRBXImm(0).load(4, 0x14).store(4, 0x14).load(2, 0x3000).store(2, 0x3000)
	poke(rDI) // the console's old place: nothing there now
	// Onto the RNG's BAR 0.
	a.cfgWriteReg(con, 0x10, rSI)
	poke(rSI)
	// Onto the RNG's MSI-X BAR; then the RNG's own BAR 0 there too.
	a.cfgWriteReg(con, 0x10, rBP)
	poke(rBP)
	a.cfgWriteReg(rng, 0x10, rBP)
	poke(rBP)
	// Above 4 GiB (no RAM there) and onto the local APIC: not accessed,
	// the identity map stops at 4 GiB and the APIC is KVM's.
	a.cfgWrite(rng, 0x14, 4, 1)
	a.cfgWrite(con, 0x10, 4, 0xfee00000)
	// Decoding off, accessed at the RNG's old place.
	a.cfgWrite(rng, 0x04, 2, 0)
	poke(rSI)
	// Restore.
	a.cfgWriteReg(rng, 0x10, rSI).cfgWrite(rng, 0x14, 4, 0).cfgWrite(rng, 0x04, 2, 0x6)
	a.cfgWriteReg(con, 0x10, rDI).cfgWrite(con, 0x14, 4, 0).cfgWrite(con, 0x04, 2, 0x6)
	a.movReg(rBX, rSI).load(2, virtio.CommonNumQueues).printEAX(1)
	a.movReg(rBX, rDI).load(2, virtio.CommonNumQueues).printEAX(1)
	a.powerOff()

	// After the restore, before Close: every doorbell is bound to KVM at
	// the address the transport reports.
	bound := func(m *Machine) {
		for _, p := range m.devs.pciDevs {
			n, ok := p.dev.(notifier)
			if !ok {
				continue
			}
			want := n.Ioeventfds()
			if len(p.bound) != len(want) {
				t.Errorf("%s: %d ioeventfds bound after the restore, want %d", p.name, len(p.bound), len(want))
				continue
			}
			for i, f := range want {
				if p.bound[i].Addr != f.Addr {
					t.Errorf("%s: doorbell %d bound at %#x, BAR says %#x", p.name, i, p.bound[i].Addr, f.Addr)
				}
			}
		}
	}
	res, out, m := runHostile(t, Config{RNG: true, VirtioConsole: true}, a.code(), 10*time.Second, bound)
	if res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	if out != "\x01\x02" {
		t.Fatalf("num_queues after the moves % x, want 01 02", out)
	}
	for _, slot := range []uint8{rng, con} {
		if err := hostileTransport(t, m, slot).Err(); err != nil {
			t.Errorf("slot %d: %v", slot, err)
		}
	}
}

// TestHostileMSIXFlood floods the RNG's MSI-X BAR with MSI-X enabled:
// thousands of writes of every size, aligned and not, over the table, the
// read-only PBA and the unused rest of the BAR, with garbage message
// addresses and vector controls, then the whole BAR once. Then it checks
// the PBA's semantics: a queue enabled with size 3 makes the device ask
// for a reset (DEVICE_NEEDS_RESET, virtio 1.2 §2.1.2) and signal the
// configuration vector, which is masked so its pending bit sets; writes to
// the PBA do not clear it; unmasking delivers the message and clears it.
func TestHostileMSIXFlood(t *testing.T) {
	const slot = hostileRNGSlot
	a := newX86()
	a.cfgRead(slot, 0x10, 4).andImm(rAX, ^uint32(0xf)).movReg(rSI, rAX)
	a.cfgRead(slot, 0x18, 4).andImm(rAX, ^uint32(0xf)).movReg(rBP, rAX)
	// Walk the capability list for MSI-X (ID 0x11): ecx = its offset.
	a.cfgRead(slot, pci.RegCapabilities, 1).andImm(rAX, 0xfc).movReg(rCX, rAX)
	a.label("cap")
	a.movReg(rAX, rCX).orImm(rAX, cfgAddr(slot, 0)).movDX(0xcf8).out(4)
	a.movDX(0xcfc).in(4)
	a.movReg(rBX, rAX).andImm(rBX, 0xff).cmpImm(rBX, pci.CapIDMSIX).jz("found")
	a.shrEAX(8).andImm(rAX, 0xfc).movReg(rCX, rAX).cmpImm(rCX, 0).jnz("cap")
	a.movImm(rAX, 'X').outCOM1().powerOff()
	a.label("found")
	// Message control: MSI-X enable, function not masked.
	a.movReg(rAX, rCX).orImm(rAX, cfgAddr(slot, 0)).movDX(0xcf8).out(4)
	a.movDX(0xcfc).movImm(rAX, 0x80000000).out(4)
	// The flood: 3000 rounds at BAR offsets 0-0x3C, 7 accesses each.
	a.movImm(rCX, 0)
	a.label("flood")
	a.movReg(rBX, rCX).emit(0xc1, 0xe3, 0x02) // shl ebx, 2
	a.andImm(rBX, 0x3c).emit(0x01, 0xeb)      // add ebx, ebp
	a.emit(0x69, 0xc1).imm32(0x9e3779b9)      // imul eax, ecx, golden
	a.store(4, 0).store(8, 0).store(1, 1).store(2, 2).store(4, 2)
	a.load(4, 0).load(8, 0)
	a.addImm(rCX, 1).cmpImm(rCX, 3000).jb("flood")
	// Every dword of the 4 KiB BAR, all-ones.
	a.movReg(rBX, rBP).movImm(rCX, 1024).movImm(rAX, 0xffffffff)
	a.label("all")
	a.store(4, 0).addImm(rBX, 4).subImm(rCX, 1).jnz("all")
	// Entry 0: a sane message (fixed, vector 0x40, to APIC 0), masked;
	// entry 1 masked.
	a.movReg(rBX, rBP)
	a.storeImm32(0, 0xfee00000).storeImm32(4, 0).storeImm32(8, 0x40).storeImm32(12, 1)
	a.storeImm32(16+12, 1)
	// config_msix_vector = 0, read back.
	a.movReg(rBX, rSI).movImm(rAX, 0).store(2, virtio.CommonConfigMSIXVector)
	a.load(2, virtio.CommonConfigMSIXVector).printEAX(1)
	// Queue 0 with size 3, enabled: refused.
	a.movImm(rAX, 0).store(2, virtio.CommonQueueSelect)
	a.movImm(rAX, 3).store(2, virtio.CommonQueueSize)
	a.movImm(rAX, 1).store(2, virtio.CommonQueueEnable)
	a.load(1, virtio.CommonDeviceStatus).printEAX(1)
	a.load(2, virtio.CommonQueueEnable).printEAX(1)
	// The PBA: pending, still pending after all-ones writes, then
	// delivered on unmask.
	a.movReg(rBX, rBP).load(4, 0x20).printEAX(1)
	a.movImm(rAX, 0xffffffff).store(4, 0x20).store(8, 0x20).store(1, 0x20)
	a.load(4, 0x20).printEAX(1)
	a.storeImm32(12, 0)
	a.load(4, 0x20).printEAX(1)
	// Reset clears DEVICE_NEEDS_RESET.
	a.movReg(rBX, rSI).movImm(rAX, 0).store(1, virtio.CommonDeviceStatus)
	a.load(1, virtio.CommonDeviceStatus).printEAX(1)
	a.powerOff()

	res, out, m := runHostile(t, Config{RNG: true}, a.code(), 15*time.Second)
	if res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	// config vector 0; status DEVICE_NEEDS_RESET; queue not enabled;
	// PBA bit 0, still, then clear; status 0 after the reset.
	if want := "\x00\x40\x00\x01\x01\x00\x00"; out != want {
		t.Fatalf("console % x, want % x", out, want)
	}
	t.Logf("pci-mmio accesses: %d", accessesOfMMIO(m, "pci-mmio"))
}

// accessesOfMMIO counts the accesses that reached an MMIO bus range.
func accessesOfMMIO(m *Machine, name string) uint64 {
	for _, r := range m.mmio.ranges {
		if r.name == name {
			return r.accesses.Load()
		}
	}
	return 0
}

// Guest-physical addresses of the virtqueue attacks' rings.
const (
	vqDesc  = 0x100000
	vqAvail = 0x101000
	vqUsed  = 0x102000
	vqBuf   = 0x103000
)

// vqDescriptor is one split-ring descriptor the guest writes.
type vqDescriptor struct {
	addr  uint64
	len   uint32
	flags uint16
	next  uint16
}

// vqAttack is one virtqueue attack on the RNG (queue 0).
type vqAttack struct {
	name string
	// size is queue_size; descs fill the table; head and availIdx are
	// avail.ring[0] and avail.idx.
	size     uint16
	descs    []vqDescriptor
	head     uint16
	availIdx uint16
	// kickEarly notifies before DRIVER_OK.
	kickEarly bool
	// want is the device status the guest should read: 0x40
	// (DEVICE_NEEDS_RESET) with the driver's bits, or without 0x40 when
	// the request is valid.
	want byte
}

// statusLive is ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK.
const statusLive = 0x0f

// emitVQAttack appends one attack to a: the driver's initialisation
// (VERSION_1 only) with the attack's queue, the rings, the kick, then up to
// 2000 status reads until DEVICE_NEEDS_RESET; it prints the status and
// used.idx, resets the device and prints the status again. esi holds BAR 0.
func emitVQAttack(a *x86, n int, at vqAttack) {
	a.movReg(rBX, rSI)
	status := func(v uint32) { a.movImm(rAX, v).store(1, virtio.CommonDeviceStatus) }
	status(0)
	status(1)
	status(3)
	a.movImm(rAX, 1).store(4, virtio.CommonDriverFeatureSelect)
	a.movImm(rAX, 1).store(4, virtio.CommonDriverFeature) // VERSION_1
	status(0xb)
	a.movImm(rAX, 0).store(2, virtio.CommonQueueSelect)
	a.movImm(rAX, uint32(at.size)).store(2, virtio.CommonQueueSize)
	a.movImm(rAX, vqDesc).store(4, virtio.CommonQueueDesc).movImm(rAX, 0).store(4, virtio.CommonQueueDesc+4)
	a.movImm(rAX, vqAvail).store(4, virtio.CommonQueueDriver).movImm(rAX, 0).store(4, virtio.CommonQueueDriver+4)
	a.movImm(rAX, vqUsed).store(4, virtio.CommonQueueDevice).movImm(rAX, 0).store(4, virtio.CommonQueueDevice+4)
	// The rings, in RAM.
	a.movRBXImm(vqDesc)
	for i, d := range at.descs {
		o := uint32(16 * i)
		a.storeImm32(o, uint32(d.addr)).storeImm32(o+4, uint32(d.addr>>32))
		a.storeImm32(o+8, d.len).storeImm32(o+12, uint32(d.flags)|uint32(d.next)<<16)
	}
	a.movRBXImm(vqAvail).storeImm32(0, uint32(at.availIdx)<<16).storeImm32(4, uint32(at.head))
	a.movRBXImm(vqUsed).storeImm32(0, 0)
	a.movReg(rBX, rSI)
	a.movImm(rAX, 1).store(2, virtio.CommonQueueEnable)
	kick := func() { a.movImm(rAX, 0).store(2, 0x3000) }
	if at.kickEarly {
		kick()
	}
	status(statusLive)
	if !at.kickEarly {
		kick()
	}
	wait, done := "wait"+string(rune('a'+n)), "done"+string(rune('a'+n))
	a.movImm(rCX, 2000)
	a.label(wait)
	a.load(1, virtio.CommonDeviceStatus).testImm(rAX, 0x40).jnz(done)
	a.subImm(rCX, 1).jnz(wait)
	a.label(done)
	a.load(1, virtio.CommonDeviceStatus).printEAX(1)
	a.movRBXImm(vqUsed).load(2, 2).printEAX(1)
	a.movReg(rBX, rSI)
	status(0)
	a.load(1, virtio.CommonDeviceStatus).printEAX(1)
}

// TestHostileVirtqueue drives the RNG's queue the way a hostile driver
// would, through the common configuration and the notify region: a
// descriptor that chains to itself, a buffer outside RAM, a huge length, a
// head index past the table, avail.idx more than a queue ahead, a queue
// size that is not a power of two, a read-only buffer, and a kick before
// DRIVER_OK (which is valid and must be served). Each broken request must
// make the device set DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2) without
// writing the used ring, and a reset must clear it.
func TestHostileVirtqueue(t *testing.T) {
	const (
		next  = 1
		write = 2
	)
	attacks := []vqAttack{
		{name: "kick before DRIVER_OK", size: 4, descs: []vqDescriptor{{vqBuf, 64, write, 0}}, availIdx: 1, kickEarly: true, want: statusLive},
		{name: "descriptor loop", size: 4, descs: []vqDescriptor{{vqBuf, 64, write | next, 0}}, availIdx: 1, want: statusLive | 0x40},
		{name: "two-descriptor loop", size: 4, descs: []vqDescriptor{{vqBuf, 64, write | next, 1}, {vqBuf, 64, write | next, 0}}, availIdx: 1, want: statusLive | 0x40},
		{name: "buffer outside RAM", size: 4, descs: []vqDescriptor{{0xffff_ffff_f000_0000, 64, write, 0}}, availIdx: 1, want: statusLive | 0x40},
		{name: "huge length", size: 4, descs: []vqDescriptor{{vqBuf, 0xffffffff, write, 0}}, availIdx: 1, want: statusLive | 0x40},
		{name: "next past the table", size: 4, descs: []vqDescriptor{{vqBuf, 64, write | next, 1000}}, availIdx: 1, want: statusLive | 0x40},
		{name: "head past the table", size: 4, descs: []vqDescriptor{{vqBuf, 64, write, 0}}, head: 1000, availIdx: 1, want: statusLive | 0x40},
		{name: "avail.idx too far ahead", size: 4, descs: []vqDescriptor{{vqBuf, 64, write, 0}}, availIdx: 0x8000, want: statusLive | 0x40},
		{name: "read-only buffer", size: 4, descs: []vqDescriptor{{vqBuf, 64, 0, 0}}, availIdx: 1, want: statusLive | 0x40},
		// The queue is refused at queue_enable: DEVICE_NEEDS_RESET at once,
		// and DRIVER_OK is still accepted (the queue stays disabled).
		{name: "queue size 3", size: 3, descs: []vqDescriptor{{vqBuf, 64, write, 0}}, availIdx: 1, want: statusLive | 0x40},
	}
	a := newX86()
	a.cfgRead(hostileRNGSlot, 0x10, 4).andImm(rAX, ^uint32(0xf)).movReg(rSI, rAX)
	for i, at := range attacks {
		emitVQAttack(a, i, at)
	}
	a.powerOff()

	res, out, _ := runHostile(t, Config{RNG: true}, a.code(), 15*time.Second)
	if res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	if len(out) != 3*len(attacks) {
		t.Fatalf("console % x: %d bytes, want %d", out, len(out), 3*len(attacks))
	}
	for i, at := range attacks {
		st, used, after := out[3*i], out[3*i+1], out[3*i+2]
		wantUsed := byte(0)
		if at.want&0x40 == 0 {
			wantUsed = 1
		}
		if st != at.want || used != wantUsed || after != 0 {
			t.Errorf("%s: status %#x, used.idx %d, status after reset %#x; want %#x, %d, 0", at.name, st, used, after, at.want, wantUsed)
		}
	}
}

// hostilePortSweep returns a guest that accesses every port 0-0xFFFF once
// with a byte (a read, or a write of 0), then prints "ok" on COM1 and
// powers off. A zero byte is harmless everywhere: it is not the ACPI S5
// value at 0x600, nor the reset value at 0x602, nor an i8042 reset
// command at 0x64 (0xF0-0xFE, or 0xD1 followed by a byte with bit 0 clear).
func hostilePortSweep(write bool) []byte {
	a := newX86()
	a.movImm(rCX, 0)
	a.label("port")
	a.movReg(rDX, rCX)
	if write {
		a.movImm(rAX, 0).out(1)
	} else {
		a.in(1)
	}
	a.addImm(rCX, 1).cmpImm(rCX, 0x10000).jb("port")
	a.movImm(rAX, 'o').outCOM1().movImm(rAX, 'k').outCOM1()
	a.powerOff()
	return a.code()
}

// TestHostilePortSweepRead reads every I/O port once: whatever the device
// (or none), govmm answers and keeps running, and COM1 still prints.
func TestHostilePortSweepRead(t *testing.T) {
	res, out, _ := runHostile(t, Config{RNG: true}, hostilePortSweep(false), 20*time.Second)
	if res.Code != ExitOK || out != "ok" {
		t.Fatalf("result %v, console %q", res, out)
	}
}

// TestHostilePortSweepWrite writes 0 to every I/O port once (the COM1
// registers included: the THR write puts a NUL on the console, and an LCR
// of 0 leaves the divisor latch off): govmm keeps running, and COM1 still
// prints.
func TestHostilePortSweepWrite(t *testing.T) {
	res, out, _ := runHostile(t, Config{RNG: true}, hostilePortSweep(true), 20*time.Second)
	if res.Code != ExitOK || !strings.HasSuffix(out, "ok") {
		t.Fatalf("result %v, console %q", res, out)
	}
	if strings.Trim(strings.TrimSuffix(out, "ok"), "\x00") != "" {
		t.Errorf("console %q: only NULs expected before ok", out)
	}
}
