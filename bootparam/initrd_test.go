package bootparam

import (
	"math"
	"testing"
)

func TestPlaceInitrd(t *testing.T) {
	tests := []struct {
		name                             string
		size, ramTop, addrMax, kernelEnd uint64
		want                             uint64
	}{
		// boot.rst example: a 131072-byte ramdisk with initrd_addr_max
		// 0x37FFFFFF can start at 0x37FE0000.
		{"spec example, addrMax below ramTop", 131072, 0x80000000, 0x37FFFFFF, 0x2000000, 0x37FE0000},
		{"ramTop below addrMax", 0x10000, 0x10000000, 0x7FFFFFFF, 0x2000000, 0x0FFF0000},
		{"aligned down to a page", 0x1234, 0x10000000, 0x7FFFFFFF, 0x2000000, 0x0FFFE000},
		{"unaligned ramTop", 0x1000, 0x10000800, 0x7FFFFFFF, 0x2000000, 0x0FFFF000},
		{"exact fit above kernel", 0x8000000, 0x10000000, 0xFFFFFFFF, 0x8000000, 0x8000000},
		{"kernel end not aligned", 0x20000, 0x37FE0000 + 0x20000, 0x7FFFFFFF, 0x37FDF001, 0x37FE0000},
		{"addrMax unlimited", 0x1000, 0x1_0000_0000, math.MaxUint64, 0, 0xFFFFF000},
		{"fills RAM from 0", 0x1000, 0x1000, 0xFFFFFFFF, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlaceInitrd(tt.size, tt.ramTop, tt.addrMax, tt.kernelEnd)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PlaceInitrd = 0x%X, want 0x%X", got, tt.want)
			}
			if got%4096 != 0 || got < tt.kernelEnd || got+tt.size > tt.ramTop || (tt.addrMax != math.MaxUint64 && got+tt.size-1 > tt.addrMax) {
				t.Errorf("placement 0x%X violates the constraints", got)
			}
		})
	}
}

func TestPlaceInitrdRejects(t *testing.T) {
	tests := []struct {
		name                             string
		size, ramTop, addrMax, kernelEnd uint64
		want                             string
	}{
		{"one byte too big", 0x8000001, 0x10000000, 0xFFFFFFFF, 0x8000000,
			"initrd (128.0 MiB) does not fit below 0x10000000 (RAM top 0x10000000, initrd_addr_max 0xFFFFFFFF) above the kernel end 0x8000000"},
		{"alignment pushes into kernel", 0x1000, 0x8000FFF, 0xFFFFFFFF, 0x7FFF001,
			"does not fit below 0x8000FFF"},
		{"overlaps kernel", 0x20000, 0x80000000, 0x37FFFFFF, 0x37FE0001,
			"initrd (0.1 MiB) does not fit below 0x38000000"},
		{"larger than RAM", 0x20000000, 0x10000000, 0xFFFFFFFF, 0,
			"initrd (512.0 MiB) does not fit"},
		{"addrMax limits", 0x1000, 0x80000000, 0xFFF, 0x1000,
			"does not fit below 0x1000"},
		{"empty", 0, 0x80000000, 0xFFFFFFFF, 0, "initrd is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlaceInitrd(tt.size, tt.ramTop, tt.addrMax, tt.kernelEnd)
			wantErr(t, err, tt.want)
		})
	}
}
