package bootparam

import (
	"reflect"
	"testing"
)

func TestE820Constants(t *testing.T) {
	// bootparam.h / start_info.h XEN_HVM_MEMMAP_TYPE_*.
	got := []uint32{E820RAM, E820Reserved, E820ACPI, E820NVS, E820Unusable}
	if !reflect.DeepEqual(got, []uint32{1, 2, 3, 4, 5}) {
		t.Errorf("e820 types = %v", got)
	}
}

func TestBuildE820(t *testing.T) {
	const (
		gib       = 1 << 30
		lowTop    = 3 * gib // example split, chosen by the test
		highBase  = 4 * gib
		ebdaStart = 0x9FC00
	)
	legacy := E820Entry{Addr: ebdaStart, Size: 0x100000 - ebdaStart, Type: E820Reserved}
	ioapic := E820Entry{Addr: 0xFEC00000, Size: 0x1000, Type: E820Reserved}
	acpi := E820Entry{Addr: 0xE0000, Size: 0x10000, Type: E820ACPI}

	tests := []struct {
		name     string
		ram      uint64
		reserved []E820Entry
		want     []E820Entry
	}{
		{"small, no holes", 512 << 20, nil,
			[]E820Entry{{0, 512 << 20, E820RAM}}},
		{"exactly the split", lowTop, nil,
			[]E820Entry{{0, lowTop, E820RAM}}},
		{"split above 4G", 5 * gib, nil,
			[]E820Entry{{0, lowTop, E820RAM}, {highBase, 2 * gib, E820RAM}}},
		{"legacy hole and MMIO device", 1 * gib, []E820Entry{ioapic, legacy},
			[]E820Entry{{0, ebdaStart, E820RAM}, legacy, {0x100000, gib - 0x100000, E820RAM}, ioapic}},
		{"adjacent reserved ranges of different types", 1 * gib, []E820Entry{{ebdaStart, acpi.Addr - ebdaStart, E820Reserved}, acpi},
			[]E820Entry{{0, ebdaStart, E820RAM}, {ebdaStart, acpi.Addr - ebdaStart, E820Reserved}, acpi, {acpi.End(), gib - acpi.End(), E820RAM}}},
		{"adjacent same-type ranges merge", 1 * gib, []E820Entry{{0x1000, 0x1000, E820Reserved}, {0x2000, 0x1000, E820Reserved}},
			[]E820Entry{{0, 0x1000, E820RAM}, {0x1000, 0x2000, E820Reserved}, {0x3000, gib - 0x3000, E820RAM}}},
		{"reserved at RAM start and end", 1 * gib, []E820Entry{{0, 0x1000, E820Reserved}, {gib - 0x1000, 0x1000, E820NVS}},
			[]E820Entry{{0, 0x1000, E820Reserved}, {0x1000, gib - 0x2000, E820RAM}, {gib - 0x1000, 0x1000, E820NVS}}},
		{"reserved spans the split", 5 * gib, []E820Entry{{lowTop - 0x1000, highBase - lowTop + 0x2000, E820Reserved}},
			[]E820Entry{{0, lowTop - 0x1000, E820RAM}, {lowTop - 0x1000, highBase - lowTop + 0x2000, E820Reserved}, {highBase + 0x1000, 2*gib - 0x1000, E820RAM}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BuildE820(tt.ram, lowTop, highBase, tt.reserved)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestBuildE820Rejects(t *testing.T) {
	_, err := BuildE820(1<<30, 1<<30, 1<<32, []E820Entry{{0x1000, 0x2000, E820Reserved}, {0x2000, 0x1000, E820ACPI}})
	wantErr(t, err, "overlap")
	_, err = BuildE820(1<<30, 1<<30, 1<<32, []E820Entry{{0x1000, 0, E820Reserved}})
	wantErr(t, err, "empty")
	_, err = BuildE820(1<<30, 1<<30, 1<<32, []E820Entry{{^uint64(0), 2, E820Reserved}})
	wantErr(t, err, "wraps")
	_, err = BuildE820(2<<30, 1<<30, 1<<29, nil)
	wantErr(t, err, "high memory base 0x20000000 is below the low memory top 0x40000000")

	// 64 one-page holes in RAM give 129 entries.
	var holes []E820Entry
	for i := range 64 {
		holes = append(holes, E820Entry{Addr: uint64(i+1) * 0x2000, Size: 0x1000, Type: E820Reserved})
	}
	got, err := BuildE820(1<<30, 1<<30, 1<<32, holes[:63])
	if err != nil || len(got) != 127 {
		t.Fatalf("63 holes: %d entries, %v", len(got), err)
	}
	_, err = BuildE820(1<<30, 1<<30, 1<<32, holes)
	wantErr(t, err, "table has 129 entries")
}
