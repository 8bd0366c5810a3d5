package machine

import (
	"encoding/binary"
	"testing"

	"github.com/govmm/govmm/acpi"
	"github.com/govmm/govmm/bootparam"
	"github.com/govmm/govmm/devices/pci"
)

// TestACPIRegion checks the layout: the tables' region lies in the BIOS
// area Linux scans for the RSDP, ends where the MP table starts, and is
// e820 reserved for every memory size.
func TestACPIRegion(t *testing.T) {
	if acpiAddr < 0xE0000 || acpiAddr+acpiMax > mptableAddr || acpiAddr%16 != 0 {
		t.Fatalf("ACPI region [%#x, +%#x) is not 16-byte aligned in 0xE0000-%#x", acpiAddr, acpiMax, mptableAddr)
	}
	for _, mem := range []uint64{minMemory, 256 << 20, 5 << 30} {
		p := &Plan{cfg: Config{MemSize: mem}}
		e820, err := p.e820()
		if err != nil {
			t.Fatal(err)
		}
		covered := false
		for _, e := range e820 {
			if e.Type == bootparam.E820Reserved && e.Addr <= acpiAddr && acpiAddr+acpiMax <= e.Addr+e.Size {
				covered = true
			}
			if e.Type == bootparam.E820RAM && e.Addr < acpiAddr+acpiMax && acpiAddr < e.Addr+e.Size {
				t.Errorf("-m %d MiB: e820 RAM [%#x, +%#x) overlaps the ACPI tables", mem>>20, e.Addr, e.Size)
			}
		}
		if !covered {
			t.Errorf("-m %d MiB: no e820 reserved entry covers the ACPI tables: %v", mem>>20, e820)
		}
	}
}

// TestACPITablesFitAndMatchMPTable builds the largest tables govmm can
// make (maxCPUs, a route for every PCI slot) and checks that they fit and
// that the MADT says what writeMPTable's table says: the I/O APIC ID after
// the CPUs, ISA IRQ n on I/O APIC pin n.
func TestACPITablesFitAndMatchMPTable(t *testing.T) {
	var irqs []acpi.PCIIRQ
	for s := range uint8(pci.NumSlots) {
		irqs = append(irqs, acpi.PCIIRQ{Slot: s, GSI: pciINTxBase + uint32(s%8)})
	}
	c := Config{CPUs: maxCPUs}
	tb, err := acpi.Build(acpiAddr, c.acpiConfig(irqs))
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Data) > acpiMax {
		t.Fatalf("%d bytes, %d reserved", len(tb.Data), acpiMax)
	}
	madt := tb.Get(acpi.SigMADT)
	io := madt[44+8*maxCPUs:]
	if io[0] != 1 || io[2] != maxCPUs || binary.LittleEndian.Uint32(io[4:]) != ioapicAddr || binary.LittleEndian.Uint32(io[8:]) != 0 {
		t.Errorf("I/O APIC entry % x", io[:12])
	}
	// ISA IRQ n on pin n, as writeMPTable's table routes it (the package
	// acpi comment says why IRQ 0 has no override).
	for i, irq := 0, uint32(1); irq < 16; i, irq = i+1, irq+1 {
		ovr := io[12+10*i:]
		if ovr[0] != 2 || ovr[2] != 0 || uint32(ovr[3]) != irq || binary.LittleEndian.Uint32(ovr[4:]) != irq {
			t.Errorf("override %d: % x, want ISA IRQ %d -> GSI %d", i, ovr[:10], irq, irq)
		}
	}
	fadt := tb.Get(acpi.SigFADT)
	for off, want := range map[int]uint64{116 + 4: acpiPMPort + 2, 244 + 4: acpiPMPort, 256 + 4: acpiPMPort + 1} {
		if got := binary.LittleEndian.Uint64(fadt[off:]); got != want {
			t.Errorf("FADT register at %d: port %#x, want %#x", off-4, got, want)
		}
	}
}

func TestPlanACPIOff(t *testing.T) {
	f := makeBadConfigFiles(t)
	for _, on := range []bool{false, true} {
		p, err := Config{MemSize: 64 << 20, Kernel: f.kernel, ACPI: on}.Plan()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.chunks {
			if c.addr < acpiAddr+acpiMax && acpiAddr < c.addr+c.size()+c.zero {
				t.Errorf("ACPI %v: a planned chunk at %#x overlaps the ACPI region", on, c.addr)
			}
		}
	}
}
