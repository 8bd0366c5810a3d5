package mptable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const (
	testAddr   = 0x9FC00
	testIOAPIC = 0xFEC00000
	testLAPIC  = 0xFEE00000
)

func cfg(cpus int) Config {
	return Config{CPUs: cpus, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC}
}

func mustBuild(t *testing.T, addr uint32, c Config) []byte {
	t.Helper()
	b, err := Build(addr, c)
	if err != nil {
		t.Fatalf("Build(%#x, %+v): %v", addr, c, err)
	}
	if len(b) != Size(c) {
		t.Fatalf("len = %d, Size = %d", len(b), Size(c))
	}
	return b
}

// Offsets below are written from the MP specification 1.4, not from the
// code: Table 4-1 (floating pointer) and Table 4-2 (configuration table
// header), offsets in bytes.
const (
	fpSignature = 0  // 4 bytes "_MP_"
	fpPhysAddr  = 4  // 4 bytes
	fpLength    = 8  // 1 byte, paragraphs
	fpSpecRev   = 9  // 1 byte
	fpChecksum  = 10 // 1 byte
	fpFeature1  = 11 // 1 byte, 0 = table present
	fpFeature2  = 12 // 1 byte, bit 7 IMCRP
	fpFeature3  = 13 // 3 bytes reserved (feature bytes 3-5)
	fpSize      = 16

	hdrSignature   = 0  // 4 bytes "PCMP"
	hdrBaseLength  = 4  // 2 bytes
	hdrSpecRev     = 6  // 1 byte
	hdrChecksum    = 7  // 1 byte
	hdrOEMID       = 8  // 8 bytes
	hdrProductID   = 16 // 12 bytes
	hdrOEMTablePtr = 28 // 4 bytes
	hdrOEMTableLen = 32 // 2 bytes
	hdrEntryCount  = 34 // 2 bytes
	hdrLAPICAddr   = 36 // 4 bytes
	hdrExtLength   = 40 // 2 bytes
	hdrExtChecksum = 42 // 1 byte
	hdrReserved    = 43 // 1 byte
	hdrSize        = 44
)

// golden1CPU is the whole block for one CPU, no PCI, at 0x9FC00, written
// out by hand from MP §4 (checksums computed separately).
var golden1CPU = []byte{
	// Floating pointer: "_MP_", physptr 0x0009FC10, length 1, rev 4,
	// checksum 0x8B, feature bytes 1-5 zero.
	0x5F, 0x4D, 0x50, 0x5F, 0x10, 0xFC, 0x09, 0x00,
	0x01, 0x04, 0x8B, 0x00, 0x00, 0x00, 0x00, 0x00,
	// Header: "PCMP", length 0x00E0 (224), rev 4, checksum 0xD1,
	// "GOVMM   ", "GOVMM-VM    ", OEM ptr 0, OEM size 0, 21 entries,
	// LAPIC 0xFEE00000, ext length 0, ext checksum 0, reserved 0.
	0x50, 0x43, 0x4D, 0x50, 0xE0, 0x00, 0x04, 0xD1,
	0x47, 0x4F, 0x56, 0x4D, 0x4D, 0x20, 0x20, 0x20,
	0x47, 0x4F, 0x56, 0x4D, 0x4D, 0x2D, 0x56, 0x4D, 0x20, 0x20, 0x20, 0x20,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0x00,
	0x00, 0x00, 0xE0, 0xFE, 0x00, 0x00, 0x00, 0x00,
	// CPU: type 0, APIC ID 0, version 0x14, EN|BP, signature 0x600,
	// features 0x201 (FPU, APIC), 8 reserved bytes.
	0x00, 0x00, 0x14, 0x03, 0x00, 0x06, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	// Bus 0 "ISA   ".
	0x01, 0x00, 0x49, 0x53, 0x41, 0x20, 0x20, 0x20,
	// I/O APIC: ID 1, version 0x11, EN, 0xFEC00000.
	0x02, 0x01, 0x11, 0x01, 0x00, 0x00, 0xC0, 0xFE,
	// I/O interrupts: INT, conforming, bus 0 IRQ n -> APIC 1 pin n.
	0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x03,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x01, 0x04,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x05, 0x01, 0x05,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x06, 0x01, 0x06,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x07, 0x01, 0x07,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x08, 0x01, 0x08,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x09, 0x01, 0x09,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x01, 0x0A,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x0B, 0x01, 0x0B,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x01, 0x0C,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x0D, 0x01, 0x0D,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x0E, 0x01, 0x0E,
	0x03, 0x00, 0x00, 0x00, 0x00, 0x0F, 0x01, 0x0F,
	// Local interrupts: ExtINT -> all LAPICs LINT0, NMI -> all LINT1.
	0x04, 0x03, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00,
	0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x01,
}

func TestGolden1CPU(t *testing.T) {
	b := mustBuild(t, testAddr, cfg(1))
	if !bytes.Equal(b, golden1CPU) {
		for i := range min(len(b), len(golden1CPU)) {
			if b[i] != golden1CPU[i] {
				t.Errorf("first difference at byte %d: got %#02x, want %#02x", i, b[i], golden1CPU[i])
				break
			}
		}
		t.Fatalf("got %d bytes, want %d:\n% x", len(b), len(golden1CPU), b)
	}
}

func sum8(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return s
}

func le16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func TestFloatingPointerFields(t *testing.T) {
	for _, addr := range []uint32{testAddr, 0xF0000, 0} {
		b := mustBuild(t, addr, cfg(2))
		fp := b[:fpSize]
		if got := string(fp[fpSignature : fpSignature+4]); got != "_MP_" {
			t.Errorf("signature %q", got)
		}
		if got := le32(fp, fpPhysAddr); got != addr+16 {
			t.Errorf("addr %#x: physical address pointer %#x, want %#x", addr, got, addr+16)
		}
		if fp[fpLength] != 1 {
			t.Errorf("length %d paragraphs, want 1", fp[fpLength])
		}
		if fp[fpSpecRev] != 4 {
			t.Errorf("spec rev %d, want 4", fp[fpSpecRev])
		}
		if fp[fpFeature1] != 0 {
			t.Errorf("feature byte 1 %#x, want 0 (configuration table present)", fp[fpFeature1])
		}
		if fp[fpFeature2] != 0 {
			t.Errorf("feature byte 2 %#x, want 0 (IMCRP clear, virtual wire)", fp[fpFeature2])
		}
		if !bytes.Equal(fp[fpFeature3:fpSize], []byte{0, 0, 0}) {
			t.Errorf("feature bytes 3-5 % x, want zero", fp[fpFeature3:fpSize])
		}
		if s := sum8(fp); s != 0 {
			t.Errorf("floating pointer sums to %#x (checksum byte %#x)", s, fp[fpChecksum])
		}
	}
}

func TestHeaderFields(t *testing.T) {
	for _, c := range []Config{cfg(1), cfg(4), {CPUs: 3, IOAPICAddr: 0xFEC01000, LAPICAddr: 0xFEE10000, PCI: true}} {
		b := mustBuild(t, testAddr, c)
		h := b[fpSize:]
		if got := string(h[hdrSignature : hdrSignature+4]); got != "PCMP" {
			t.Errorf("signature %q", got)
		}
		if got, want := int(le16(h, hdrBaseLength)), len(b)-fpSize; got != want {
			t.Errorf("base table length %d, want %d", got, want)
		}
		if h[hdrSpecRev] != 4 {
			t.Errorf("spec rev %d", h[hdrSpecRev])
		}
		if got := string(h[hdrOEMID : hdrOEMID+8]); got != "GOVMM   " {
			t.Errorf("OEM ID %q", got)
		}
		if got := string(h[hdrProductID : hdrProductID+12]); got != "GOVMM-VM    " {
			t.Errorf("product ID %q", got)
		}
		if got := le32(h, hdrOEMTablePtr); got != 0 {
			t.Errorf("OEM table pointer %#x", got)
		}
		if got := le16(h, hdrOEMTableLen); got != 0 {
			t.Errorf("OEM table size %d", got)
		}
		buses := 1
		if c.PCI {
			buses = 2
		}
		if got, want := int(le16(h, hdrEntryCount)), c.CPUs+buses+1+16+2; got != want {
			t.Errorf("entry count %d, want %d", got, want)
		}
		if got := le32(h, hdrLAPICAddr); got != c.LAPICAddr {
			t.Errorf("local APIC address %#x, want %#x", got, c.LAPICAddr)
		}
		if got := le16(h, hdrExtLength); got != 0 {
			t.Errorf("extended table length %d", got)
		}
		if h[hdrExtChecksum] != 0 || h[hdrReserved] != 0 {
			t.Errorf("extended checksum %#x, reserved %#x", h[hdrExtChecksum], h[hdrReserved])
		}
		if s := sum8(h[:le16(h, hdrBaseLength)]); s != 0 {
			t.Errorf("base table sums to %#x (checksum byte %#x)", s, h[hdrChecksum])
		}
	}
}

// Parsed entries.
type (
	cpuEntry struct {
		id, ver, flags byte
		sig, features  uint32
	}
	busEntry struct {
		id  byte
		typ string
	}
	ioapicEntry struct {
		id, ver, flags byte
		addr           uint32
	}
	intEntry struct {
		typ                         byte
		flags                       uint16
		bus, busIRQ, dstAPIC, dstIN byte
	}
)

type parsed struct {
	oem, product string
	lapic        uint32
	entryCount   int
	cpus         []cpuEntry
	buses        []busEntry
	ioapics      []ioapicEntry
	ints, lints  []intEntry
}

// findAndParse finds the floating pointer in mem (guest memory starting at
// physical address base) the way Linux's smp_scan_config does, scanning
// [scan, scan+scanLen) in 16-byte steps, then follows its physical address
// pointer and walks the base table as smp_read_mpc does: entries start
// after the 44-byte header and each type has a fixed size; an unknown type
// is an error. The walk must end exactly at the base table length.
func findAndParse(mem []byte, base, scan, scanLen uint32) (*parsed, error) {
	at := func(pa uint32, n int) ([]byte, error) {
		if pa < base || uint64(pa-base)+uint64(n) > uint64(len(mem)) {
			return nil, fmt.Errorf("[%#x, +%d) outside memory", pa, n)
		}
		return mem[pa-base : int(pa-base)+n], nil
	}
	var mpf []byte
	for pa := scan; pa < scan+scanLen; pa += 16 {
		b, err := at(pa, 16)
		if err != nil {
			return nil, err
		}
		if string(b[:4]) == "_MP_" && b[8] == 1 && sum8(b) == 0 && (b[9] == 1 || b[9] == 4) {
			mpf = b
			break
		}
	}
	if mpf == nil {
		return nil, errors.New("no MP floating pointer found")
	}
	if mpf[11] != 0 {
		return nil, fmt.Errorf("default configuration %d, want a table", mpf[11])
	}
	physptr := le32(mpf, 4)
	hdr, err := at(physptr, 44)
	if err != nil {
		return nil, err
	}
	length := int(le16(hdr, 4))
	mpc, err := at(physptr, length)
	if err != nil {
		return nil, err
	}
	// smp_check_mpc.
	switch {
	case string(mpc[:4]) != "PCMP":
		return nil, fmt.Errorf("bad signature %q", mpc[:4])
	case sum8(mpc) != 0:
		return nil, errors.New("checksum error")
	case mpc[6] != 1 && mpc[6] != 4:
		return nil, fmt.Errorf("bad table version %d", mpc[6])
	case le32(mpc, 36) == 0:
		return nil, errors.New("null local APIC address")
	}
	p := &parsed{
		oem:        string(mpc[8:16]),
		product:    string(mpc[16:28]),
		entryCount: int(le16(mpc, 34)),
		lapic:      le32(mpc, 36),
	}
	// smp_read_mpc.
	count := 44
	n := 0
	for count < length {
		e := mpc[count:]
		var size int
		switch e[0] {
		case 0:
			size = 20
			if count+size <= length {
				p.cpus = append(p.cpus, cpuEntry{e[1], e[2], e[3], le32(e, 4), le32(e, 8)})
				if !bytes.Equal(e[12:20], make([]byte, 8)) {
					return nil, fmt.Errorf("processor entry at %d: reserved bytes % x", count, e[12:20])
				}
			}
		case 1:
			size = 8
			if count+size <= length {
				p.buses = append(p.buses, busEntry{e[1], string(e[2:8])})
			}
		case 2:
			size = 8
			if count+size <= length {
				p.ioapics = append(p.ioapics, ioapicEntry{e[1], e[2], e[3], le32(e, 4)})
			}
		case 3, 4:
			size = 8
			if count+size <= length {
				ie := intEntry{e[1], le16(e, 2), e[4], e[5], e[6], e[7]}
				if e[0] == 3 {
					p.ints = append(p.ints, ie)
				} else {
					p.lints = append(p.lints, ie)
				}
			}
		default:
			return nil, fmt.Errorf("unknown entry type %d at offset %d", e[0], count)
		}
		count += size
		n++
	}
	if count != length {
		return nil, fmt.Errorf("entries end at %d, past the base table length %d", count, length)
	}
	if n != p.entryCount {
		return nil, fmt.Errorf("walked %d entries, header says %d", n, p.entryCount)
	}
	return p, nil
}

// parseAt places b at addr in a simulated 1 MiB of guest memory and parses
// it, scanning the region Linux would scan for that address.
func parseAt(t *testing.T, addr uint32, b []byte) *parsed {
	t.Helper()
	mem := make([]byte, 1<<20)
	copy(mem[addr:], b)
	scan, scanLen := uint32(639*0x400), uint32(0x400)
	if addr >= 0xF0000 {
		scan, scanLen = 0xF0000, 0x10000
	}
	p, err := findAndParse(mem, 0, scan, scanLen)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestParseLikeLinux(t *testing.T) {
	for _, tc := range []struct {
		addr uint32
		c    Config
	}{
		{testAddr, cfg(1)},
		{testAddr, cfg(2)},
		{testAddr, cfg(40)},
		{testAddr, Config{CPUs: 8, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: true,
			PCIIRQs: []PCIIRQ{{1, 0, 16}, {2, 0, 17}, {2, 1, 18}, {31, 3, 23}}}},
		{testAddr, Config{CPUs: 4, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, IRQ0ToPin2: true}},
		{0xF0000, Config{CPUs: 64, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, MaxSize: 0x10000}},
		{0xF0000, Config{CPUs: MaxCPUs, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: true, MaxSize: 0x10000}},
	} {
		t.Run(fmt.Sprintf("%#x/%d-cpus/pci=%v/irq0pin2=%v", tc.addr, tc.c.CPUs, tc.c.PCI, tc.c.IRQ0ToPin2), func(t *testing.T) {
			c := tc.c
			p := parseAt(t, tc.addr, mustBuild(t, tc.addr, c))
			if p.oem != "GOVMM   " || p.product != "GOVMM-VM    " || p.lapic != testLAPIC {
				t.Errorf("header: OEM %q product %q LAPIC %#x", p.oem, p.product, p.lapic)
			}

			// Processors: IDs 0..n-1, all enabled, only CPU 0 the BSP.
			if len(p.cpus) != c.CPUs {
				t.Fatalf("%d processor entries, want %d", len(p.cpus), c.CPUs)
			}
			bsps := 0
			for i, cpu := range p.cpus {
				if int(cpu.id) != i || cpu.ver != 0x14 || cpu.flags&1 == 0 || cpu.flags&^3 != 0 {
					t.Errorf("CPU %d: %+v", i, cpu)
				}
				if cpu.flags&2 != 0 {
					bsps++
					if i != 0 {
						t.Errorf("CPU %d has the BP flag", i)
					}
				}
				if cpu.sig>>8&0xF != 6 || cpu.features&(1<<9) == 0 || cpu.features&1 == 0 {
					t.Errorf("CPU %d: signature %#x features %#x", i, cpu.sig, cpu.features)
				}
			}
			if bsps != 1 {
				t.Errorf("%d BSPs", bsps)
			}

			// Buses: PCI is bus 0 when present, ISA the next ID.
			wantBuses := []busEntry{{0, "ISA   "}}
			if c.PCI {
				wantBuses = []busEntry{{0, "PCI   "}, {1, "ISA   "}}
			}
			if fmt.Sprint(p.buses) != fmt.Sprint(wantBuses) {
				t.Errorf("buses %v, want %v", p.buses, wantBuses)
			}
			isa := wantBuses[len(wantBuses)-1].id

			// One I/O APIC, ID after the CPUs.
			if len(p.ioapics) != 1 || p.ioapics[0] != (ioapicEntry{byte(c.CPUs), 0x11, 1, testIOAPIC}) {
				t.Fatalf("I/O APICs %+v", p.ioapics)
			}
			ioapicID := byte(c.CPUs)

			// ISA IRQs: every IRQ once, INT, conforming, to the I/O APIC.
			isaPin := map[byte]byte{}
			pciPin := map[[2]byte]byte{}
			for _, e := range p.ints {
				if e.typ != 0 || e.dstAPIC != ioapicID {
					t.Errorf("I/O interrupt entry %+v", e)
				}
				switch e.bus {
				case isa:
					if e.flags != 0 {
						t.Errorf("ISA IRQ %d flags %#x", e.busIRQ, e.flags)
					}
					if _, dup := isaPin[e.busIRQ]; dup {
						t.Errorf("ISA IRQ %d twice", e.busIRQ)
					}
					isaPin[e.busIRQ] = e.dstIN
				default:
					if !c.PCI || e.bus != 0 {
						t.Errorf("entry on bus %d: %+v", e.bus, e)
					}
					if e.flags != 0x000F {
						t.Errorf("PCI entry flags %#x, want 0x000F (level, active low)", e.flags)
					}
					pciPin[[2]byte{e.busIRQ >> 2 & 0x1F, e.busIRQ & 3}] = e.dstIN
				}
			}
			for irq := byte(0); irq < 16; irq++ {
				pin, ok := isaPin[irq]
				want, wantOK := irq, true
				if c.IRQ0ToPin2 {
					switch irq {
					case 0:
						want = 2
					case 2:
						wantOK = false
					}
				}
				if ok != wantOK || (ok && pin != want) {
					t.Errorf("ISA IRQ %d: pin %d (present %v), want pin %d (present %v)", irq, pin, ok, want, wantOK)
				}
			}
			if len(pciPin) != len(c.PCIIRQs) {
				t.Errorf("%d PCI entries, want %d", len(pciPin), len(c.PCIIRQs))
			}
			for _, q := range c.PCIIRQs {
				// As IO_APIC_get_PCI_irq_vector: match bus, device and pin.
				if got, ok := pciPin[[2]byte{q.Slot, q.Pin}]; !ok || got != q.IOAPICPin {
					t.Errorf("PCI %02x INT%c: pin %d (found %v), want %d", q.Slot, 'A'+q.Pin, got, ok, q.IOAPICPin)
				}
			}

			// Local interrupts: ExtINT on LINT0, NMI on LINT1, all APICs.
			wantL := []intEntry{{3, 0, isa, 0, 0xFF, 0}, {1, 0, isa, 0, 0xFF, 1}}
			if fmt.Sprint(p.lints) != fmt.Sprint(wantL) {
				t.Errorf("local interrupts %+v, want %+v", p.lints, wantL)
			}
		})
	}
}

func TestEntryCounts(t *testing.T) {
	for _, n := range []int{1, 64} {
		b := mustBuild(t, 0xF0000, Config{CPUs: n, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, MaxSize: 4096})
		h := b[fpSize:]
		// CPUs + ISA bus + I/O APIC + 16 ISA IRQs + 2 local.
		if got, want := int(le16(h, hdrEntryCount)), n+1+1+16+2; got != want {
			t.Errorf("%d CPUs: entry count %d, want %d", n, got, want)
		}
		if got, want := int(le16(h, hdrBaseLength)), hdrSize+20*n+8+8+16*8+2*8; got != want {
			t.Errorf("%d CPUs: base length %d, want %d", n, got, want)
		}
		// The first entry is CPU 0 with EN|BP, the others EN only.
		for i := range n {
			e := h[hdrSize+20*i:]
			if e[0] != 0 || int(e[1]) != i {
				t.Fatalf("entry %d: type %d APIC ID %d", i, e[0], e[1])
			}
			want := byte(1)
			if i == 0 {
				want = 3
			}
			if e[3] != want {
				t.Errorf("%d CPUs: CPU %d flags %#x, want %#x", n, i, e[3], want)
			}
		}
	}
}

func TestSizeLimit(t *testing.T) {
	// The fixed part is 16 + 44 + 8 (ISA) + 8 (I/O APIC) + 16*8 + 2*8 =
	// 220 bytes; 20 bytes a CPU leaves room for 40 CPUs in 1 KiB.
	for _, tc := range []struct {
		c    Config
		fits bool
	}{
		{cfg(40), true},
		{cfg(41), false},
		{cfg(64), false},
		{Config{CPUs: 39, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: true}, true},
		{Config{CPUs: 40, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: true}, false},
		// 39 CPUs, PCI and two INTx entries fill the KiB exactly.
		{Config{CPUs: 39, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: true, PCIIRQs: []PCIIRQ{{1, 0, 16}, {2, 0, 17}}}, true},
		{Config{CPUs: 39, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: true, PCIIRQs: []PCIIRQ{{1, 0, 16}, {2, 0, 17}, {3, 0, 18}}}, false},
		{Config{CPUs: 64, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, MaxSize: 1500}, true},
		{Config{CPUs: 64, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, MaxSize: 1499}, false},
	} {
		b, err := Build(testAddr, tc.c)
		if tc.fits {
			if err != nil || len(b) > max(tc.c.MaxSize, DefaultMaxSize) {
				t.Errorf("%d CPUs (PCI %v, max %d): %d bytes, %v", tc.c.CPUs, tc.c.PCI, tc.c.MaxSize, len(b), err)
			}
			continue
		}
		if !errors.Is(err, ErrTooLarge) || b != nil {
			t.Errorf("%d CPUs (PCI %v, max %d): got %d bytes, err %v; want ErrTooLarge", tc.c.CPUs, tc.c.PCI, tc.c.MaxSize, len(b), err)
		}
	}
	if got := Size(cfg(40)); got != 1020 {
		t.Errorf("Size(40 CPUs) = %d, want 1020", got)
	}
}

func TestChecksumsManyConfigs(t *testing.T) {
	for n := 1; n <= MaxCPUs; n++ {
		for _, pci := range []bool{false, true} {
			c := Config{CPUs: n, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: pci, MaxSize: 0x10000}
			if pci {
				c.PCIIRQs = []PCIIRQ{{Slot: byte(n % 32), Pin: byte(n % 4), IOAPICPin: byte(16 + n%8)}}
			}
			b := mustBuild(t, 0xF0000, c)
			if s := sum8(b[:fpSize]); s != 0 {
				t.Fatalf("%d CPUs: floating pointer sums to %#x", n, s)
			}
			if s := sum8(b[fpSize:]); s != 0 {
				t.Fatalf("%d CPUs: base table sums to %#x", n, s)
			}
			if got := int(le16(b, fpSize+hdrBaseLength)); got != len(b)-fpSize {
				t.Fatalf("%d CPUs: base length %d, want %d", n, got, len(b)-fpSize)
			}
		}
	}
}

func TestPhysAddrPointer(t *testing.T) {
	for _, addr := range []uint32{0, 0x400 - 0x100, testAddr, 0xF0000, 0xFFC00} {
		b := mustBuild(t, addr, cfg(1))
		if got := le32(b, fpPhysAddr); got != addr+16 {
			t.Errorf("addr %#x: pointer %#x, want %#x", addr, got, addr+16)
		}
		if string(b[16:20]) != "PCMP" {
			t.Errorf("addr %#x: no PCMP right after the pointer", addr)
		}
	}
}

func TestIRQ0ToPin2(t *testing.T) {
	b := mustBuild(t, testAddr, Config{CPUs: 1, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, IRQ0ToPin2: true})
	if len(b) != len(golden1CPU)-8 {
		t.Fatalf("%d bytes, want %d", len(b), len(golden1CPU)-8)
	}
	// The first I/O interrupt entry follows header, CPU, bus and I/O APIC.
	first := fpSize + hdrSize + 20 + 8 + 8
	if want := []byte{3, 0, 0, 0, 0, 0, 1, 2}; !bytes.Equal(b[first:first+8], want) {
		t.Errorf("IRQ 0 entry % x, want % x", b[first:first+8], want)
	}
	if want := []byte{3, 0, 0, 0, 0, 1, 1, 1}; !bytes.Equal(b[first+8:first+16], want) {
		t.Errorf("IRQ 1 entry % x, want % x", b[first+8:first+16], want)
	}
	if want := []byte{3, 0, 0, 0, 0, 3, 1, 3}; !bytes.Equal(b[first+16:first+24], want) {
		t.Errorf("entry after IRQ 1 % x, want IRQ 3 % x", b[first+16:first+24], want)
	}
}

func TestPCIEntries(t *testing.T) {
	c := Config{CPUs: 2, IOAPICAddr: testIOAPIC, LAPICAddr: testLAPIC, PCI: true,
		PCIIRQs: []PCIIRQ{{Slot: 3, Pin: 1, IOAPICPin: 20}}}
	b := mustBuild(t, testAddr, c)
	buses := fpSize + hdrSize + 2*20
	if want := []byte{1, 0, 'P', 'C', 'I', ' ', ' ', ' ', 1, 1, 'I', 'S', 'A', ' ', ' ', ' '}; !bytes.Equal(b[buses:buses+16], want) {
		t.Errorf("bus entries % x, want % x", b[buses:buses+16], want)
	}
	// I/O APIC (ID 2), 16 ISA entries on bus 1, then the PCI entry:
	// INT, flags 0x000F, bus 0, IRQ (3<<2)|1 = 0x0D, APIC 2, pin 20.
	isa0 := buses + 16 + 8
	if want := []byte{3, 0, 0, 0, 1, 0, 2, 0}; !bytes.Equal(b[isa0:isa0+8], want) {
		t.Errorf("ISA IRQ 0 entry % x, want % x", b[isa0:isa0+8], want)
	}
	pci := isa0 + 16*8
	if want := []byte{3, 0, 0x0F, 0x00, 0, 0x0D, 2, 20}; !bytes.Equal(b[pci:pci+8], want) {
		t.Errorf("PCI entry % x, want % x", b[pci:pci+8], want)
	}
	lint := pci + 8
	if want := []byte{4, 3, 0, 0, 1, 0, 0xFF, 0, 4, 1, 0, 0, 1, 0, 0xFF, 1}; !bytes.Equal(b[lint:], want) {
		t.Errorf("local entries % x, want % x", b[lint:], want)
	}
}

func TestInvalidConfigs(t *testing.T) {
	ok := cfg(1)
	for _, tc := range []struct {
		name string
		addr uint32
		mod  func(*Config)
		want string
	}{
		{"zero CPUs", testAddr, func(c *Config) { c.CPUs = 0 }, "CPUs"},
		{"too many CPUs", testAddr, func(c *Config) { c.CPUs = MaxCPUs + 1; c.MaxSize = 1 << 16 }, "CPUs"},
		{"unaligned", testAddr + 8, func(*Config) {}, "aligned"},
		{"no LAPIC", testAddr, func(c *Config) { c.LAPICAddr = 0 }, "local APIC"},
		{"no IOAPIC", testAddr, func(c *Config) { c.IOAPICAddr = 0 }, "I/O APIC"},
		{"negative MaxSize", testAddr, func(c *Config) { c.MaxSize = -1 }, "MaxSize"},
		{"INTx without PCI", testAddr, func(c *Config) { c.PCIIRQs = []PCIIRQ{{1, 0, 16}} }, "without PCI"},
		{"slot 32", testAddr, func(c *Config) { c.PCI = true; c.PCIIRQs = []PCIIRQ{{32, 0, 16}} }, "slot"},
		{"pin 4", testAddr, func(c *Config) { c.PCI = true; c.PCIIRQs = []PCIIRQ{{1, 4, 16}} }, "pin 4"},
		{"ISA pin", testAddr, func(c *Config) { c.PCI = true; c.PCIIRQs = []PCIIRQ{{1, 0, 11}} }, "pin 11"},
		{"pin 24", testAddr, func(c *Config) { c.PCI = true; c.PCIIRQs = []PCIIRQ{{1, 0, 24}} }, "pin 24"},
		{"duplicate", testAddr, func(c *Config) { c.PCI = true; c.PCIIRQs = []PCIIRQ{{1, 0, 16}, {1, 0, 17}} }, "twice"},
		{"crosses 4 GiB", 0xFFFFFF80, func(*Config) {}, "4 GiB"},
	} {
		c := ok
		tc.mod(&c)
		b, err := Build(tc.addr, c)
		if err == nil || !strings.Contains(err.Error(), tc.want) || b != nil {
			t.Errorf("%s: err %v (want it to mention %q), %d bytes", tc.name, err, tc.want, len(b))
		}
	}
}

// TestParserRejects checks that the test parser itself catches broken
// tables, so that TestParseLikeLinux means something.
func TestParserRejects(t *testing.T) {
	fix := func(b []byte) { // recompute the base table checksum
		b[fpSize+hdrChecksum] = 0
		b[fpSize+hdrChecksum] = -sum8(b[fpSize:][:le16(b, fpSize+hdrBaseLength)])
	}
	for _, tc := range []struct {
		name string
		mod  func([]byte) []byte
		want string
	}{
		{"bad checksum", func(b []byte) []byte { b[len(b)-1]++; return b }, "checksum"},
		{"length past last entry", func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[fpSize+hdrBaseLength:], le16(b, fpSize+hdrBaseLength)+4)
			b = append(b, 4, 0, 0, 0)
			fix(b)
			return b
		}, "past the base table length"},
		{"unknown type", func(b []byte) []byte { b[len(b)-8] = 9; fix(b); return b }, "unknown entry type"},
		{"wrong entry count", func(b []byte) []byte { b[fpSize+hdrEntryCount]++; fix(b); return b }, "header says"},
		{"no pointer", func(b []byte) []byte { b[fpChecksum]++; return b }, "no MP floating pointer"},
	} {
		b := tc.mod(mustBuild(t, testAddr, cfg(2)))
		mem := make([]byte, 1<<20)
		copy(mem[testAddr:], b)
		if _, err := findAndParse(mem, 0, testAddr, 0x400); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}
