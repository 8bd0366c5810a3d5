package bootparam

import "testing"

func FuzzParseBzImage(f *testing.F) {
	f.Add(synthBzImage(bzSpec{setupSects: 1, kernelLen: 64}))
	f.Add(synthBzImage(bzSpec{setupSects: 0, kernelLen: 16}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := parseBz(data)
		if err != nil {
			if img != nil {
				t.Fatalf("image returned with error %v", err)
			}
			return
		}
		if !IsBzImage(data) || img.KernelSize == 0 || img.KernelOffset+img.KernelSize != uint64(len(data)) || img.Version < 0x020C {
			t.Fatalf("accepted an invalid image: %+v", img)
		}
		// Whatever was accepted must give a zero page.
		zp, err := BuildZeroPage(img, ZeroPageParams{CmdlineAddr: 0x20000})
		if err != nil || len(zp) != 4096 {
			t.Fatalf("BuildZeroPage: %d bytes, %v", len(zp), err)
		}
		_ = CheckCmdline(img, "console=ttyS0")
	})
}

func FuzzParseELF(f *testing.F) {
	f.Add(synthELF(defaultELF()))
	s := defaultELF()
	s.ptNote, s.shtNote = false, true
	f.Add(synthELF(s))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseELF(data)
		if err != nil {
			if k != nil {
				t.Fatalf("kernel returned with error %v", err)
			}
			return
		}
		inside := false
		for _, seg := range k.Segments {
			if seg.Filesz > seg.Memsz || seg.Offset > uint64(len(data)) || seg.Filesz > uint64(len(data))-seg.Offset {
				t.Fatalf("segment with %d file bytes at %d (memsz %d) in a %d-byte file", seg.Filesz, seg.Offset, seg.Memsz, len(data))
			}
			if uint64(k.Entry) >= seg.Paddr && uint64(k.Entry) < seg.Paddr+seg.Memsz {
				inside = true
			}
		}
		if !inside {
			t.Fatalf("entry 0x%X outside the segments", k.Entry)
		}
	})
}
