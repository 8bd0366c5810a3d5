package bench

import "testing"

func TestKeyValue(t *testing.T) {
	out := "pio_exit_ns 40287.0\nexits 20001\n"
	if v, err := KeyValue(out, "pio_exit_ns"); err != nil || v != 40287 {
		t.Fatalf("%v %v", v, err)
	}
	if v, err := KeyValue(out, "exits"); err != nil || v != 20001 {
		t.Fatalf("%v %v", v, err)
	}
	if _, err := KeyValue(out, "mmio_kick_ns"); err == nil {
		t.Fatal("missing key accepted")
	}
	if _, err := KeyValue("x abc\n", "x"); err == nil {
		t.Fatal("bad number accepted")
	}
}

func TestParseDD(t *testing.T) {
	out := "256+0 records in\n256+0 records out\n268435456 bytes (268 MB, 256 MiB) copied, 0.0509102 s, 5.3 GB/s\n"
	n, sec, err := ParseDD(out)
	if err != nil || n != 268435456 || sec != 0.0509102 {
		t.Fatalf("%d %v %v", n, sec, err)
	}
	// Seconds in exponent form.
	n, sec, err = ParseDD("8388608 bytes (8.4 MB, 8.0 MiB) copied, 1.5e-03 s, 5.6 GB/s\n")
	if err != nil || n != 8388608 || sec != 0.0015 {
		t.Fatalf("%d %v %v", n, sec, err)
	}
	if _, _, err := ParseDD("dd: failed to open 'x': No such file or directory\n"); err == nil {
		t.Fatal("error output accepted")
	}
	if _, _, err := ParseDD("5 bytes copied, 0 s, inf B/s\n"); err == nil {
		t.Fatal("zero seconds accepted")
	}
}

// statsSample is `govmm demo -stats` stderr (machine.WriteStats) with a
// second reason added.
const statsSample = "" +
	"  exit reason  count  vmm time  per exit\n" +
	"           IO     51     967µs   18.97µs\n" +
	"         MMIO   1200      12ms    10.1µs\n" +
	"\n" +
	"  bus  address     device  accesses  vmm time\n" +
	"  pio     0x64  i8042-cmd         1      49µs\n" +
	"  pio    0x3f8       com1        50     918µs\n" +
	"govmm: guest kernel panic (pvpanic) (exit 3)\n"

func TestExitCounts(t *testing.T) {
	c, err := ExitCounts("console noise\n" + statsSample)
	if err != nil {
		t.Fatal(err)
	}
	if c["IO"] != 51 || c["MMIO"] != 1200 || len(c) != 2 || Total(c) != 1251 {
		t.Fatalf("counts %v", c)
	}
	if _, err := ExitCounts("no stats here\n"); err == nil {
		t.Fatal("missing table accepted")
	}
	if _, err := ExitCounts("exit reason count vmm time per exit\n IO many 1µs 1µs\n"); err == nil {
		t.Fatal("bad count accepted")
	}
	// An empty table (no exits at all) is zero exits, not an error.
	if c, err := ExitCounts("  exit reason  count  vmm time  per exit\n\n"); err != nil || Total(c) != 0 {
		t.Fatalf("%v %v", c, err)
	}
}
