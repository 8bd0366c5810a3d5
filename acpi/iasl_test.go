package acpi

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// iaslProblem matches what iasl prints, on its output or in the
// disassembly, about a table it does not like: its Error/Warning/Remark
// messages, "Firmware Warning (ACPI): Incorrect checksum ...", and the
// comments it adds to the disassembly ("/* Incorrect checksum, should be
// 86 */", "**** Unknown ...", "Invalid ...").
var iaslProblem = regexp.MustCompile(`(?i)error|warning|remark|incorrect|invalid|unknown|should be|does not contain a valid`)

// TestIASLDisassembly writes each table (but the RSDP, below) to a .dat file
// and disassembles it with iasl -d (Debian's acpica-tools; `make tools`
// installs it). Any error or warning in iasl's output or in the .dsl it
// writes fails the test. The DSDT's AML must disassemble back to ASL.
//
// iasl cannot disassemble a bare RSDP from a binary file (it has no table
// header, so iasl reports "does not contain a valid ACPI table");
// TestGoldenTables and TestChecksumsAndLinks cover it.
func TestIASLDisassembly(t *testing.T) {
	iasl, err := exec.LookPath("iasl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("iasl not found; run `make tools` (Debian package acpica-tools)")
		}
		t.Skip("iasl not found; run `make tools` (Debian package acpica-tools)")
	}
	for _, cpus := range []int{1, 4} {
		c := testConfig(cpus)
		c.PCI.IRQs = []PCIIRQ{{Slot: 2, GSI: 18}, {Slot: 3, GSI: 19}, {Slot: 10, Pin: 1, GSI: 16}}
		c.ISA = []ISADevice{
			{Name: "COM1", HID: "PNP0501", UID: 1, Ports: []PortRange{{0x3F8, 8}}, IRQ: 4},
			{Name: "KBD", HID: "PNP0303", Ports: []PortRange{{0x60, 1}, {0x64, 1}}, IRQ: 1},
			{Name: "RTC", HID: "PNP0B00", Ports: []PortRange{{0x70, 2}}, IRQ: 8},
		}
		tb := mustBuild(t, testAddr, c)
		dir := t.TempDir()
		for _, e := range tb.List[1:] {
			dat := filepath.Join(dir, e.Signature+".dat")
			if err := os.WriteFile(dat, tb.Get(e.Signature), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(iasl, "-d", dat)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			// The banner says "Compiler/Disassembler"; nothing else in a
			// clean run matches iaslProblem.
			if err != nil {
				t.Errorf("%d CPUs: iasl -d %s.dat: %v\n%s", cpus, e.Signature, err, out)
				continue
			}
			for _, line := range strings.Split(string(out), "\n") {
				if iaslProblem.MatchString(line) {
					t.Errorf("%d CPUs: iasl -d %s.dat: %s", cpus, e.Signature, line)
				}
			}
			dsl, err := os.ReadFile(strings.TrimSuffix(dat, ".dat") + ".dsl")
			if err != nil {
				t.Errorf("%d CPUs: %s: no disassembly: %v", cpus, e.Signature, err)
				continue
			}
			for _, line := range strings.Split(string(dsl), "\n") {
				// The .dsl header comment quotes the command line and
				// iasl's version; the FADT lists its flags by name,
				// "WBINVD flushes all caches" and so on, none of which
				// match.
				if iaslProblem.MatchString(line) {
					t.Errorf("%d CPUs: %s.dsl: %s", cpus, e.Signature, strings.TrimSpace(line))
				}
			}
			if e.Signature == SigDSDT {
				for _, want := range []string{"Name (\\_S5, Package (0x02)", "Device (PCI0)", `EisaId ("PNP0A03")`, "DWordMemory", "0x000AFFFF", "Device (COM1)", `EisaId ("PNP0501")`, "IRQNoFlags ()", "{4}", "Device (KBD)", "Device (RTC)"} {
					if !strings.Contains(string(dsl), want) {
						t.Errorf("%d CPUs: DSDT disassembly lacks %q:\n%s", cpus, want, dsl)
					}
				}
			}
		}
	}
}

// TestIASLCatchesBadChecksum makes sure the check above would see a broken
// table: iasl must complain about a wrong checksum.
func TestIASLCatchesBadChecksum(t *testing.T) {
	iasl, err := exec.LookPath("iasl")
	if err != nil {
		t.Skip("iasl not found")
	}
	madt := mustBuild(t, testAddr, testConfig(1)).Get(SigMADT)
	madt[9]++
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "APIC.dat"), madt, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(iasl, "-d", "APIC.dat")
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	dsl, _ := os.ReadFile(filepath.Join(dir, "APIC.dsl"))
	if !iaslProblem.Match(out) && !iaslProblem.Match(dsl) {
		t.Errorf("iasl did not report a bad checksum:\n%s", out)
	}
}
