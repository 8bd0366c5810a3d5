package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A nested run's output as govmm-nested streams it: marked sections, go test
// -v lines, subtests indented, and a package whose binary died mid-run.
const nestedOutput = `@@testhosts: start e2e
=== RUN   TestBootPVH
    boot_test.go:40: host: nested (hardware virtualization (svm))
--- PASS: TestBootPVH (8.25s)
=== RUN   TestKernelTimeout
--- FAIL: TestKernelTimeout (0.58s)
=== RUN   TestSub
    --- PASS: TestSub/inner (0.00s)
--- SKIP: TestSub (0.01s)
FAIL
@@testhosts: end e2e exit 1
@@testhosts: start machine
=== RUN   TestRealModeGuestPrintsThroughUART
--- PASS: TestRealModeGuestPrintsThroughUART (0.10s)
panic: boom
@@testhosts: end machine exit 2
`

func TestCollectorAttributesResultsToPackages(t *testing.T) {
	c := newCollector("nested", io.Discard)
	if err := c.consume(strings.NewReader(nestedOutput)); err != nil {
		t.Fatal(err)
	}
	want := []result{
		{"nested", "e2e", "TestBootPVH", "PASS", 8250 * time.Millisecond},
		{"nested", "e2e", "TestKernelTimeout", "FAIL", 580 * time.Millisecond},
		{"nested", "e2e", "TestSub", "SKIP", 10 * time.Millisecond},
		{"nested", "machine", "TestRealModeGuestPrintsThroughUART", "PASS", 100 * time.Millisecond},
	}
	if !reflect.DeepEqual(c.results, want) {
		t.Fatalf("results\n%+v\nwant\n%+v", c.results, want)
	}
	if !reflect.DeepEqual(c.exits, map[string]int{"e2e": 1, "machine": 2}) {
		t.Fatalf("exits %v", c.exits)
	}
	// The machine binary panicked before TestHalt reported: that test and
	// nothing else is added as a failure.
	add := reconcile("nested", "machine", []string{"TestRealModeGuestPrintsThroughUART", "TestHalt"}, c.results, 2, "exit 2")
	if len(add) != 1 || add[0].Test != "TestHalt" || add[0].Status != "FAIL" {
		t.Fatalf("reconcile added %+v", add)
	}
	// A binary that exits non-zero with every test passed is a failure too.
	add = reconcile("nested", "machine", []string{"TestRealModeGuestPrintsThroughUART"}, c.results, 2, "test binary exit 2")
	if len(add) != 1 || add[0].Test != "(test binary exit 2)" {
		t.Fatalf("reconcile added %+v", add)
	}
	if add := reconcile("nested", "e2e", []string{"TestBootPVH", "TestKernelTimeout", "TestSub"}, c.results, 1, "x"); len(add) != 0 {
		t.Fatalf("reconcile added %+v to a package whose failure is already counted", add)
	}
}

// TestSummaryLineForm: the closing line is "<host>: N passed, N failed, N
// skipped", the form CI logs and scripts read.
func TestSummaryLineForm(t *testing.T) {
	rs := []result{{Host: "nested", Status: "PASS"}, {Host: "nested", Status: "PASS"}, {Host: "nested", Status: "FAIL"}, {Host: "nested", Status: "SKIP"}}
	got := summaryLine("nested", rs)
	if got != "nested: 2 passed, 1 failed, 1 skipped" {
		t.Fatalf("%q", got)
	}
	if !regexp.MustCompile(`^\w+: \d+ passed, \d+ failed, \d+ skipped$`).MatchString(got) {
		t.Fatalf("%q is not in the closing-line form", got)
	}
}

func TestTestFuncsFindsOnlyTopLevelTests(t *testing.T) {
	src := `package x
import "testing"
func TestMain(m *testing.M) {}
func TestA(t *testing.T) {}
// TestB needs hardware virtualization.
//
//testhosts:hardware-only
func TestB(t *testing.T) { t.Run("c", func(t *testing.T) {}) }
func BenchmarkC(b *testing.B) {}
func Testhelper() {}
func TestNotATest(x int) {}
type s struct{}
func (s) TestMethod(t *testing.T) {}
`
	p := filepath.Join(t.TempDir(), "x_test.go")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got, hw, err := testFuncs(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"TestA", "TestB"}) || !reflect.DeepEqual(hw, []string{"TestB"}) {
		t.Fatalf("tests %v, hardware-only %v", got, hw)
	}
	rest, only := splitHardwareOnly([]kvmPackage{
		{ImportPath: "m/a", Tests: got, HardwareOnly: hw},
		{ImportPath: "m/b", Tests: []string{"TestC"}, HardwareOnly: []string{"TestC"}},
	})
	if len(rest) != 1 || !reflect.DeepEqual(rest[0].Tests, []string{"TestA"}) ||
		len(only) != 2 || !reflect.DeepEqual(only[0].Tests, []string{"TestB"}) || !reflect.DeepEqual(only[1].Tests, []string{"TestC"}) {
		t.Fatalf("splitHardwareOnly: rest %+v, hardware-only %+v", rest, only)
	}
}

func TestTestArgsSelectExactlyTheTaggedTests(t *testing.T) {
	args := testArgs(kvmPackage{Tests: []string{"TestA", "TestB"}}, time.Minute)
	re := regexp.MustCompile(args[len(args)-1])
	for name, want := range map[string]bool{"TestA": true, "TestB": true, "TestAB": false, "TestC": false} {
		if re.MatchString(name) != want {
			t.Errorf("-test.run %s matches %s: %v", re, name, !want)
		}
	}
	if shellQuote("it's") != `'it'\''s'` {
		t.Errorf("shellQuote %s", shellQuote("it's"))
	}
}

// TestDiscoverFindsThisRepositorysKVMTests runs the real discovery on this
// module: the e2e boots and the machine package's raw guests are KVM tests,
// unit tests are not.
func TestDiscoverFindsThisRepositorysKVMTests(t *testing.T) {
	module, pkgs, err := discover("..", "kvm", []string{"./..."})
	if err != nil {
		t.Fatal(err)
	}
	byPkg := map[string][]string{}
	hwOnly := map[string][]string{}
	for _, p := range pkgs {
		byPkg[p.Short(module)] = p.Tests
		hwOnly[p.Short(module)] = p.HardwareOnly
	}
	if want := []string{"TestNetUserDHCPWgetHostfwd", "TestStockKernelACPIOff", "TestStockKernelPowerOff", "TestStockKernelReboot"}; !reflect.DeepEqual(hwOnly["e2e"], want) {
		t.Fatalf("e2e hardware-only tests %v, want %v", hwOnly["e2e"], want)
	}
	has := func(pkg, test string) bool {
		for _, n := range byPkg[pkg] {
			if n == test {
				return true
			}
		}
		return false
	}
	if !has("e2e", "TestBootPVH") || !has("machine", "TestTripleFaultIsACrash") {
		t.Fatalf("KVM tests missing: %v", byPkg)
	}
	if has("machine", "TestBusDispatchesWithOffset") {
		t.Fatal("a unit test counted as a KVM test")
	}
}

// TestRetryTakesFailedAndUnfinishedTestsOnly: after the L1 died in the
// middle of the machine package, its failed test and the tests with no
// result line run again; the finished e2e package's passes do not. A pass
// on the retry is reported as PASS* and counts as passed.
func TestRetryTakesFailedAndUnfinishedTestsOnly(t *testing.T) {
	c := newCollector("nested", io.Discard)
	out := "@@testhosts: start e2e\n--- PASS: TestA (1.00s)\n@@testhosts: end e2e exit 0\n" +
		"@@testhosts: start machine\n--- FAIL: TestB (1.00s)\n[   38.1] Kernel panic - not syncing\n"
	if err := c.consume(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	pkgs := []kvmPackage{
		{ImportPath: "m/e2e", Tests: []string{"TestA"}},
		{ImportPath: "m/machine", Tests: []string{"TestB", "TestC", "TestD"}},
	}
	again := toRetry("m", pkgs, c)
	if len(again) != 1 || again[0].ImportPath != "m/machine" || !reflect.DeepEqual(again[0].Tests, []string{"TestB", "TestC", "TestD"}) {
		t.Fatalf("toRetry: %+v", again)
	}
	retry := []result{
		{Host: "nested", Package: "machine", Test: "TestB", Status: "PASS"},
		{Host: "nested", Package: "machine", Test: "TestC", Status: "FAIL"},
		{Host: "nested", Package: "machine", Test: "TestD", Status: "PASS"},
	}
	got := merge(c.results, retry)
	byTest := map[string]string{}
	for _, r := range got {
		byTest[r.Test] = r.Status
	}
	if !reflect.DeepEqual(byTest, map[string]string{"TestA": "PASS", "TestB": "PASS*", "TestC": "FAIL", "TestD": "PASS*"}) {
		t.Fatalf("merged %v", byTest)
	}
	if p, f, s := counts(got); p != 3 || f != 1 || s != 0 {
		t.Fatalf("counts %d %d %d", p, f, s)
	}
}
