package bus_test

import (
	"bytes"
	"testing"

	"github.com/govmm/govmm/devices/bus"
)

func TestFillOnes(t *testing.T) {
	for n := 0; n <= 8; n++ {
		b := make([]byte, n)
		bus.FillOnes(b)
		if !bytes.Equal(b, bytes.Repeat([]byte{0xFF}, n)) {
			t.Errorf("FillOnes(%d bytes) = % x", n, b)
		}
	}
}
