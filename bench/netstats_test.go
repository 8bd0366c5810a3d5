package bench

import "testing"

// netStatsSample is the end of `govmm run -net tap:bench0 -stats` stderr
// (machine.writeNetStats: tabwriter, right-aligned).
const netStatsSample = `exit reason  count  vmm time  per exit
         IO   1234     1.2ms     1µs

          network  rx frames  rx bytes  rx dropped  tx frames   tx bytes  tx dropped
net0 (tap bench0)       2048    135168           1     187000  270532608           0
`

func TestNetCounts(t *testing.T) {
	c, err := NetCounts(netStatsSample, "net0")
	if err != nil {
		t.Fatal(err)
	}
	want := NetCounters{RxFrames: 2048, RxBytes: 135168, RxDropped: 1, TxFrames: 187000, TxBytes: 270532608}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if _, err := NetCounts(netStatsSample, "net1"); err == nil {
		t.Fatal("a missing device was found")
	}
	// A "net0" line outside the network table does not count.
	if _, err := NetCounts("net0 1 2 3 4 5 6\n", "net0"); err == nil {
		t.Fatal("a line outside the table was parsed")
	}
	if _, err := NetCounts("network  rx frames\nnet0 (tap x) 1 2 3 4 5 z\n", "net0"); err == nil {
		t.Fatal("a bad number was accepted")
	}
}
