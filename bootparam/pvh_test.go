package bootparam

import "testing"

// Offsets below are from include/xen/interface/hvm/start_info.h.

func TestBuildStartInfo(t *testing.T) {
	p := StartInfoParams{
		Flags:         0x11223344,
		NrModules:     2,
		ModlistPaddr:  0x0102030405060708,
		CmdlinePaddr:  0x1112131415161718,
		RSDPPaddr:     0x2122232425262728,
		MemmapPaddr:   0x3132333435363738,
		MemmapEntries: 0x41424344,
	}
	want := make([]byte, 56)
	put32(want, 0, 0x336ec578) // magic
	put32(want, 4, 1)          // version
	put32(want, 8, p.Flags)    // flags
	put32(want, 12, 2)         // nr_modules
	put64(want, 16, p.ModlistPaddr)
	put64(want, 24, p.CmdlinePaddr)
	put64(want, 32, p.RSDPPaddr)
	put64(want, 40, p.MemmapPaddr)
	put32(want, 48, p.MemmapEntries)
	// 52..56: reserved, zero.
	got := BuildStartInfo(p)
	checkBytes(t, "hvm_start_info", got, want)
	// "xEn3" with the 0x80 bit of the "E" set.
	if string(got[0:4]) != "\x78\xc5\x6e\x33" {
		t.Errorf("magic bytes % X", got[0:4])
	}
}

func TestBuildModList(t *testing.T) {
	mods := []Module{
		{Paddr: 0x7F000000, Size: 0x123456, CmdlinePaddr: 0x20000},
		{Paddr: 0x1_0000_0000, Size: 1},
	}
	want := make([]byte, 64)
	for i, m := range mods {
		put64(want, 32*i+0, m.Paddr)         // paddr
		put64(want, 32*i+8, m.Size)          // size
		put64(want, 32*i+16, m.CmdlinePaddr) // cmdline_paddr
		// 32*i+24: reserved, zero.
	}
	checkBytes(t, "hvm_modlist_entry[]", BuildModList(mods), want)
	if n := len(BuildModList(nil)); n != 0 {
		t.Errorf("BuildModList(nil) is %d bytes", n)
	}
}

func TestBuildMemMap(t *testing.T) {
	want := make([]byte, 24*len(testE820))
	for i, e := range testE820 {
		put64(want, 24*i+0, e.Addr)  // addr
		put64(want, 24*i+8, e.Size)  // size
		put32(want, 24*i+16, e.Type) // type
		// 24*i+20: reserved, zero.
	}
	checkBytes(t, "hvm_memmap_table_entry[]", BuildMemMap(testE820), want)
}
