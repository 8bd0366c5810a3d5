package bootparam

import (
	"testing"
)

// wantZeroPage builds the expected struct boot_params by hand from the
// image bytes, at offsets from bootparam.h and boot.rst.
func wantZeroPage(image []byte, headerEnd int, cmdline, initrd, initrdSize uint64, e820 []E820Entry) []byte {
	zp := make([]byte, 4096)
	copy(zp[0x1F1:headerEnd], image[0x1F1:headerEnd]) // hdr
	put8(zp, 0x210, 0xFF)                             // type_of_loader: undefined
	put8(zp, 0x211, image[0x211]|0x80)                // loadflags |= CAN_USE_HEAP
	put16(zp, 0x224, 0xFE00)                          // heap_end_ptr
	put16(zp, 0x1FA, 0xFFFF)                          // vid_mode: normal
	put32(zp, 0x228, uint32(cmdline))                 // cmd_line_ptr
	put32(zp, 0x0C8, uint32(cmdline>>32))             // ext_cmd_line_ptr
	put32(zp, 0x218, uint32(initrd))                  // ramdisk_image
	put32(zp, 0x0C0, uint32(initrd>>32))              // ext_ramdisk_image
	put32(zp, 0x21C, uint32(initrdSize))              // ramdisk_size
	put32(zp, 0x0C4, uint32(initrdSize>>32))          // ext_ramdisk_size
	put8(zp, 0x1E8, uint8(len(e820)))                 // e820_entries
	for i, e := range e820 {                          // e820_table, packed 20-byte entries
		put64(zp, 0x2D0+20*i, e.Addr)
		put64(zp, 0x2D0+20*i+8, e.Size)
		put32(zp, 0x2D0+20*i+16, e.Type)
	}
	return zp
}

var testE820 = []E820Entry{
	{Addr: 0, Size: 0x9FC00, Type: E820RAM},
	{Addr: 0x9FC00, Size: 0x60400, Type: E820Reserved},
	{Addr: 0x100000, Size: 0x7FF00000, Type: E820RAM},
	{Addr: 0xFEC00000, Size: 0x1000, Type: E820Reserved},
	{Addr: 0xE0000, Size: 0x1000, Type: E820ACPI},
}

func TestBuildZeroPage(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 7, kernelLen: 1024})
	img := mustParseBz(t, data)
	p := ZeroPageParams{
		CmdlineAddr: 0x20000,
		InitrdAddr:  0x7F000000,
		InitrdSize:  0x00ABC123,
		E820:        testE820,
	}
	zp, err := BuildZeroPage(img, p)
	if err != nil {
		t.Fatal(err)
	}
	want := wantZeroPage(data, synthHeaderEnd, p.CmdlineAddr, p.InitrdAddr, p.InitrdSize, p.E820)
	checkBytes(t, "zero page", zp, want)

	// Spot checks against literal values, independent of wantZeroPage.
	if zp[0x1F1] != 7 || string(zp[0x202:0x206]) != "HdrS" || zp[0x206] != 0x0F || zp[0x207] != 0x02 {
		t.Errorf("setup header not copied to 0x1F1")
	}
	if zp[0x211] != 0x81 {
		t.Errorf("loadflags = 0x%02X, want 0x81", zp[0x211])
	}
	if zp[0x1F0] != 0 || zp[synthHeaderEnd] != 0 {
		t.Errorf("bytes outside the setup header were copied")
	}
	if zp[0x1E8] != 5 {
		t.Errorf("e820_entries = %d, want 5", zp[0x1E8])
	}
	// Entry 4 is ACPI at 0xE0000: 0x2D0 + 4*20 = 0x320.
	if zp[0x320] != 0x00 || zp[0x322] != 0x0E || zp[0x330] != 3 {
		t.Errorf("e820_table[4] misplaced: % X", zp[0x320:0x334])
	}
}

func TestBuildZeroPageNoInitrd(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 4, kernelLen: 1024})
	// A loader-set value in the image must be cleared when there is no initrd.
	put32(data, 0x218, 0xDEADBEEF)
	put32(data, 0x21C, 0x1000)
	img := mustParseBz(t, data)
	zp, err := BuildZeroPage(img, ZeroPageParams{CmdlineAddr: 0x9000})
	if err != nil {
		t.Fatal(err)
	}
	clean := append([]byte(nil), data...)
	put32(clean, 0x218, 0)
	put32(clean, 0x21C, 0)
	checkBytes(t, "zero page", zp, wantZeroPage(clean, synthHeaderEnd, 0x9000, 0, 0, nil))
}

func TestBuildZeroPageAbove4G(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 4, kernelLen: 1024})
	put16(data, 0x236, 0x0003) // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
	img := mustParseBz(t, data)
	p := ZeroPageParams{
		CmdlineAddr: 0x1_2345_6000,
		InitrdAddr:  0x3_8000_0000,
		InitrdSize:  0x1_0000_1000,
		E820:        []E820Entry{{Addr: 0, Size: 0x4_0000_0000, Type: E820RAM}},
	}
	zp, err := BuildZeroPage(img, p)
	if err != nil {
		t.Fatal(err)
	}
	checkBytes(t, "zero page", zp, wantZeroPage(data, synthHeaderEnd, p.CmdlineAddr, p.InitrdAddr, p.InitrdSize, p.E820))
	// Literal checks of the ext_ halves.
	if zp[0xC8] != 1 || zp[0x228+3] != 0x23 || zp[0xC0] != 3 || zp[0x218+3] != 0x80 || zp[0xC4] != 1 || zp[0x21C+1] != 0x10 {
		t.Errorf("64-bit pointers split wrongly: ext % X, hdr % X", zp[0xC0:0xCC], zp[0x218:0x22C])
	}
}

func TestBuildZeroPageMaxE820(t *testing.T) {
	img := mustParseBz(t, synthBzImage(bzSpec{setupSects: 4, kernelLen: 16}))
	table := make([]E820Entry, 128)
	for i := range table {
		table[i] = E820Entry{Addr: uint64(i) << 20, Size: 1 << 19, Type: uint32(i%5 + 1)}
	}
	zp, err := BuildZeroPage(img, ZeroPageParams{E820: table})
	if err != nil {
		t.Fatal(err)
	}
	// The last entry ends at 0x2D0 + 128*20 = 0xCD0, just before eddbuf.
	if zp[0x1E8] != 128 || zp[0xCD0-4] != 127%5+1 || zp[0xCD0] != 0 {
		t.Errorf("128th e820 entry misplaced")
	}
	_, err = BuildZeroPage(img, ZeroPageParams{E820: append(table, E820Entry{})})
	wantErr(t, err, "e820 table has 129 entries, at most 128 fit")
}

func TestBuildZeroPageRejects(t *testing.T) {
	img := mustParseBz(t, synthBzImage(bzSpec{setupSects: 4, kernelLen: 16})) // initrd_addr_max 0x7FFFFFFF
	tests := []struct {
		name string
		p    ZeroPageParams
		want string
	}{
		{"cmdline above 4G", ZeroPageParams{CmdlineAddr: 1 << 32}, "command line at 0x100000000 is above 4 GiB"},
		{"initrd above addr max", ZeroPageParams{InitrdAddr: 0x7FFFF000, InitrdSize: 0x1001}, "ends above initrd_addr_max 0x7FFFFFFF"},
		{"initrd wraps", ZeroPageParams{InitrdAddr: ^uint64(0) - 10, InitrdSize: 20}, "wraps around"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BuildZeroPage(img, tt.p)
			wantErr(t, err, tt.want)
		})
	}
	// Exactly up to initrd_addr_max (inclusive) is fine.
	if _, err := BuildZeroPage(img, ZeroPageParams{InitrdAddr: 0x7FFFF000, InitrdSize: 0x1000}); err != nil {
		t.Errorf("initrd ending at initrd_addr_max: %v", err)
	}
}
