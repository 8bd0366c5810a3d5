package acpi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

const testAddr = 0xE0000

// testConfig is the machine govmm builds by default: one CPU, the APICs at
// their usual addresses, the ACPI ports at 0x600-0x602, PCI with one virtio
// device in slot 2 on GSI 18.
func testConfig(cpus int) Config {
	return Config{
		CPUs: cpus, LAPICAddr: 0xFEE00000, IOAPICAddr: 0xFEC00000, IOAPICID: uint8(cpus),
		SleepControlPort: 0x600, SleepStatusPort: 0x601, ResetPort: 0x602, Century: 0x32,
		PCI: &PCI{MMIOBase: 0xC0000000, MMIOSize: 0x10000000, ConfigPort: 0xCF8, IRQs: []PCIIRQ{{Slot: 2, Pin: 0, GSI: 18}}},
	}
}

func mustBuild(t *testing.T, addr uint64, c Config) *Tables {
	t.Helper()
	tb, err := Build(addr, c)
	if err != nil {
		t.Fatalf("Build(%#x): %v", addr, err)
	}
	return tb
}

// The golden tables below are written out field by field from the ACPI 6.5
// specification; the checksums were computed separately.

// The common header (§5.2.6) after signature, length, revision and checksum.
var hdrTail = []byte{
	'G', 'O', 'V', 'M', 'M', ' ', // OEMID
	'G', 'O', 'V', 'M', 'M', 'V', 'M', ' ', // OEM Table ID
	0x01, 0x00, 0x00, 0x00, // OEM Revision
	'G', 'O', 'V', 'M', // Creator ID
	0x01, 0x00, 0x00, 0x00, // Creator Revision
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// goldenRSDP points at the XSDT at 0xE0300 (§5.2.5.3, Table 5.3).
var goldenRSDP = []byte{
	'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ',
	0x39,                         // checksum of bytes 0-19
	'G', 'O', 'V', 'M', 'M', ' ', // OEMID
	0x02,                   // revision 2
	0x00, 0x00, 0x00, 0x00, // RsdtAddress: none
	0x24, 0x00, 0x00, 0x00, // Length 36
	0x00, 0x03, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x00, // XsdtAddress 0xE0300
	0xCB,             // extended checksum of all 36 bytes
	0x00, 0x00, 0x00, // reserved
}

// goldenXSDT lists the FADT at 0xE0100 and the MADT at 0xE0220 (§5.2.8).
var goldenXSDT = join([]byte{'X', 'S', 'D', 'T', 0x34, 0x00, 0x00, 0x00, 0x01, 0x1F}, hdrTail, []byte{
	0x00, 0x01, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x20, 0x02, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x00,
})

// goldenMADT is one CPU (§5.2.12).
var goldenMADT = join([]byte{'A', 'P', 'I', 'C', 0xDC, 0x00, 0x00, 0x00, 0x05, 0x76}, hdrTail, []byte{
	0x00, 0x00, 0xE0, 0xFE, // Local Interrupt Controller Address
	0x01, 0x00, 0x00, 0x00, // Flags: PCAT_COMPAT
	// Processor Local APIC: type 0, length 8, UID 0, APIC ID 0, Enabled.
	0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	// I/O APIC: type 1, length 12, ID 1, reserved, 0xFEC00000, GSI base 0.
	0x01, 0x0C, 0x01, 0x00, 0x00, 0x00, 0xC0, 0xFE, 0x00, 0x00, 0x00, 0x00,
	// Interrupt Source Overrides: type 2, length 10, ISA, IRQ n -> GSI n,
	// flags conforming, for n = 1..15 (none for IRQ 0).
	0x02, 0x0A, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x05, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x06, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x07, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x09, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x0B, 0x0B, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x0C, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x0D, 0x0D, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x0E, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x0A, 0x00, 0x0F, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00,
	// Local APIC NMI: type 4, length 6, all processors, conforming, LINT1.
	0x04, 0x06, 0xFF, 0x00, 0x00, 0x01,
})

// goldenDSDT is \_S5_ and the PCI host bridge with one _PRT entry (§20 for
// the AML encoding, §6.4 for the resource descriptors).
var goldenDSDT = join([]byte{'D', 'S', 'D', 'T', 0xCE, 0x00, 0x00, 0x00, 0x02, 0xAE}, hdrTail, []byte{
	// Name (\_S5_, Package (2) {5, Zero})
	0x08, '\\', '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A, 0x05, 0x00,
	// Scope (\_SB_) { Device (PCI0) {
	0x10, 0x4D, 0x09, '\\', '_', 'S', 'B', '_',
	0x5B, 0x82, 0x44, 0x09, 'P', 'C', 'I', '0',
	// Name (_HID, EisaId ("PNP0A03")), _UID, _SEG, _BBN Zero
	0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03,
	0x08, '_', 'U', 'I', 'D', 0x00,
	0x08, '_', 'S', 'E', 'G', 0x00,
	0x08, '_', 'B', 'B', 'N', 0x00,
	// Name (_CRS, Buffer (0x54) {
	0x08, '_', 'C', 'R', 'S', 0x11, 0x48, 0x05, 0x0A, 0x54,
	// WordBusNumber 0-0
	0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	// IO (Decode16, 0xCF8, 0xCF8, 1, 8)
	0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08,
	// WordIO 0x0000-0x0CF7
	0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0xF7, 0x0C, 0x00, 0x00, 0xF8, 0x0C,
	// WordIO 0x0D00-0xFFFF
	0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x0D, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xF3,
	// DWordMemory 0xC0000000-0xCFFFFFFF, read-write, non-cacheable
	0x87, 0x17, 0x00, 0x00, 0x0C, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0,
	0xFF, 0xFF, 0xFF, 0xCF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
	// End tag })
	0x79, 0x00,
	// Name (_PRT, Package (1) { Package (4) {0x0002FFFF, Zero, Zero, 18} })
	0x08, '_', 'P', 'R', 'T', 0x12, 0x0E, 0x01,
	0x12, 0x0B, 0x04, 0x0C, 0xFF, 0xFF, 0x02, 0x00, 0x00, 0x00, 0x0A, 0x12,
})

func TestGoldenTables(t *testing.T) {
	tb := mustBuild(t, testAddr, testConfig(1))
	for _, g := range []struct {
		sig  string
		want []byte
	}{{SigRSDP, goldenRSDP}, {SigXSDT, goldenXSDT}, {SigMADT, goldenMADT}, {SigDSDT, goldenDSDT}} {
		got := tb.Get(g.sig)
		if !bytes.Equal(got, g.want) {
			for i := range min(len(got), len(g.want)) {
				if got[i] != g.want[i] {
					t.Errorf("%s: first difference at byte %d: got %#02x, want %#02x", g.sig, i, got[i], g.want[i])
					break
				}
			}
			t.Errorf("%s: got %d bytes, want %d:\n% x", g.sig, len(got), len(g.want), got)
		}
	}
}

// TestGoldenFADT checks every non-zero field of the FADT by offset (§5.2.9,
// Table 5.9) and that every other byte is zero.
func TestGoldenFADT(t *testing.T) {
	tb := mustBuild(t, testAddr, testConfig(1))
	f := tb.Get(SigFADT)
	want := make([]byte, 276)
	copy(want, join([]byte{'F', 'A', 'C', 'P', 0x14, 0x01, 0x00, 0x00, 0x06, 0x6E}, hdrTail))
	set := func(off int, b ...byte) { copy(want[off:], b) }
	set(40, 0x30, 0x00, 0x0E, 0x00)                                // DSDT 0xE0030
	set(108, 0x32)                                                 // CENTURY: CMOS RAM index 0x32 (the PC AT's century byte)
	set(109, 0x07, 0x00)                                           // IAPC_BOOT_ARCH: legacy devices, 8042, no VGA
	set(112, 0x31, 0x04, 0x10, 0x00)                               // Flags: WBINVD, PWR/SLP_BUTTON, RESET_REG_SUP, HW_REDUCED_ACPI
	set(116, 0x01, 0x08, 0x00, 0x01, 0x02, 0x06, 0, 0, 0, 0, 0, 0) // RESET_REG: I/O 0x602, 8 bits, byte access
	set(128, 0x01)                                                 // RESET_VALUE
	set(131, 0x05)                                                 // FADT minor version: 6.5
	set(140, 0x30, 0x00, 0x0E, 0x00)                               // X_DSDT
	set(244, 0x01, 0x08, 0x00, 0x01, 0x00, 0x06, 0, 0, 0, 0, 0, 0) // SLEEP_CONTROL_REG: I/O 0x600
	set(256, 0x01, 0x08, 0x00, 0x01, 0x01, 0x06, 0, 0, 0, 0, 0, 0) // SLEEP_STATUS_REG: I/O 0x601
	if !bytes.Equal(f, want) {
		for i := range min(len(f), len(want)) {
			if f[i] != want[i] {
				t.Errorf("first difference at byte %d: got %#02x, want %#02x", i, f[i], want[i])
				break
			}
		}
		t.Fatalf("got %d bytes, want %d:\n% x", len(f), len(want), f)
	}
}

func sum8(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return s
}

func TestChecksumsAndLinks(t *testing.T) {
	for _, cpus := range []int{1, 2, 64, MaxCPUs} {
		c := testConfig(cpus)
		c.PCI.IRQs = nil
		for s := range 32 {
			c.PCI.IRQs = append(c.PCI.IRQs, PCIIRQ{Slot: uint8(s), GSI: 16 + uint32(s)%8})
		}
		tb := mustBuild(t, testAddr, c)
		rsdp := tb.Get(SigRSDP)
		if sum8(rsdp[:20]) != 0 || sum8(rsdp) != 0 {
			t.Errorf("%d CPUs: RSDP checksums do not sum to 0", cpus)
		}
		if tb.List[0].Offset != 0 || tb.List[0].Signature != SigRSDP {
			t.Errorf("RSDP is not first")
		}
		at := func(addr uint64) []byte { return tb.Data[addr-testAddr:] }
		xsdt := at(binary.LittleEndian.Uint64(rsdp[24:]))
		if string(xsdt[:4]) != SigXSDT {
			t.Fatalf("RSDP points at %q", xsdt[:4])
		}
		var sigs []string
		for _, e := range tb.List[1:] {
			b := tb.Get(e.Signature)
			if sum8(b) != 0 {
				t.Errorf("%d CPUs: %s does not sum to 0", cpus, e.Signature)
			}
			if int(binary.LittleEndian.Uint32(b[4:])) != len(b) {
				t.Errorf("%s: length field %d, table %d bytes", e.Signature, binary.LittleEndian.Uint32(b[4:]), len(b))
			}
			if e.Offset%16 != 0 {
				t.Errorf("%s at offset %d, not 16-byte aligned", e.Signature, e.Offset)
			}
		}
		n := (binary.LittleEndian.Uint32(xsdt[4:]) - 36) / 8
		for i := range n {
			sigs = append(sigs, string(at(binary.LittleEndian.Uint64(xsdt[36+8*i:]))[:4]))
		}
		if got := strings.Join(sigs, ","); got != "FACP,APIC" {
			t.Errorf("XSDT lists %s", got)
		}
		fadt := tb.Get(SigFADT)
		dsdt := binary.LittleEndian.Uint64(fadt[140:])
		if string(at(dsdt)[:4]) != SigDSDT || uint64(binary.LittleEndian.Uint32(fadt[40:])) != dsdt {
			t.Errorf("FADT DSDT fields %#x, %#x", binary.LittleEndian.Uint32(fadt[40:]), dsdt)
		}
		madt := tb.Get(SigMADT)
		if got, want := len(madt), 44+8*cpus+12+15*10+6; got != want {
			t.Errorf("%d CPUs: MADT %d bytes, want %d", cpus, got, want)
		}
		if cpus > 1 {
			last := madt[44+8*(cpus-1):]
			if last[0] != 0 || last[2] != byte(cpus-1) || last[3] != byte(cpus-1) {
				t.Errorf("%d CPUs: last local APIC entry % x", cpus, last[:8])
			}
		}
	}
}

func TestNoPCI(t *testing.T) {
	c := testConfig(1)
	c.PCI = nil
	d := mustBuild(t, testAddr, c).Get(SigDSDT)
	if got := d[36:]; !bytes.Equal(got, goldenDSDT[36:48]) {
		t.Errorf("DSDT without PCI: % x, want only \\_S5_", got)
	}
}

func TestErrors(t *testing.T) {
	bad := func(f func(*Config)) Config { c := testConfig(1); f(&c); return c }
	for _, tc := range []struct {
		addr uint64
		c    Config
		want string
	}{
		{testAddr, bad(func(c *Config) { c.CPUs = 0 }), "CPUs"},
		{testAddr, bad(func(c *Config) { c.CPUs = MaxCPUs + 1 }), "CPUs"},
		{testAddr + 8, testConfig(1), "aligned"},
		{1 << 32, testConfig(1), "4 GiB"},
		{testAddr, bad(func(c *Config) { c.LAPICAddr = 0 }), "APIC address"},
		{testAddr, bad(func(c *Config) { c.ResetPort = 0 }), "ports"},
		{testAddr, bad(func(c *Config) { c.PCI.IRQs = append(c.PCI.IRQs, c.PCI.IRQs[0]) }), "twice"},
		{testAddr, bad(func(c *Config) { c.PCI.IRQs[0].Pin = 4 }), "pin"},
		{testAddr, bad(func(c *Config) { c.PCI.MMIOBase = 0xFFFF0000 }), "window"},
		{testAddr, bad(func(c *Config) { c.ISA = []ISADevice{{Name: "COM1", HID: "PNP0501", IRQ: 16}} }), "ISA device"},
		{testAddr, bad(func(c *Config) { c.ISA = []ISADevice{{Name: "SERIAL", HID: "PNP0501", IRQ: 4}} }), "ISA device"},
	} {
		if _, err := Build(tc.addr, tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%#x, ...) = %v, want an error containing %q", tc.addr, err, tc.want)
		}
	}
	c := testConfig(MaxCPUs)
	c.MaxSize = 1024
	if _, err := Build(testAddr, c); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxSize 1024 with %d CPUs: %v, want ErrTooLarge", MaxCPUs, err)
	}
}

// TestISADeviceAML checks \_SB.COM1 byte for byte (§19.6.31 Device,
// §6.4.2.5 I/O port descriptor, §6.4.2.1 IRQ descriptor).
func TestISADeviceAML(t *testing.T) {
	got := isaDevice(ISADevice{Name: "COM1", HID: "PNP0501", UID: 1, Ports: []PortRange{{0x3F8, 8}}, IRQ: 4})
	want := []byte{
		0x5B, 0x82, 0x2B, 'C', 'O', 'M', '1', // Device (COM1), PkgLength 43
		0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x05, 0x01, // Name (_HID, EisaId ("PNP0501"))
		0x08, '_', 'U', 'I', 'D', 0x01, // Name (_UID, One)
		0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0A, 0x0D, // Name (_CRS, Buffer (13) {
		0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, // IO (Decode16, 0x3F8, 0x3F8, 1, 8)
		0x22, 0x10, 0x00, // IRQNoFlags () {4}
		0x79, 0x00, // End tag })
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	none := isaDevice(ISADevice{Name: "X", HID: "PNP0C02", Ports: []PortRange{{0x80, 1}}, IRQ: -1})
	if bytes.Contains(none, []byte{resIRQNoFlags}) {
		t.Errorf("device without an IRQ has an IRQ descriptor: % x", none)
	}
}

func TestPkgLength(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x01}},
		{62, []byte{0x3F}},
		{63, []byte{0x41, 0x04}},           // 65 = 0x41: 1 extra byte, low nibble 1, then 0x04
		{0x0FFD, []byte{0x4F, 0xFF}},       // 0xFFF: the largest 2-byte length
		{0x0FFE, []byte{0x81, 0x00, 0x01}}, // 0x1001
	} {
		if got := pkgLength(tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("pkgLength(%d) = % x, want % x", tc.n, got, tc.want)
		}
	}
}

func TestEISAID(t *testing.T) {
	for id, want := range map[string]uint32{"PNP0A03": 0x030AD041, "PNP0A08": 0x080AD041, "PNP0501": 0x0105D041} {
		if got := eisaID(id); got != want {
			t.Errorf("eisaID(%q) = %#08x, want %#08x", id, got, want)
		}
	}
}
