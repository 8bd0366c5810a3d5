package bootparam

import (
	"bytes"
	"testing"
)

func TestParseBzImage(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 7, kernelLen: 4096})
	img := mustParseBz(t, data)

	if img.Version != synthVersion {
		t.Errorf("Version = 0x%X, want 0x%X", img.Version, synthVersion)
	}
	if img.SetupSects != 7 {
		t.Errorf("SetupSects = %d, want 7", img.SetupSects)
	}
	if img.Loadflags != synthLoadflags {
		t.Errorf("Loadflags = 0x%X, want 0x%X", img.Loadflags, synthLoadflags)
	}
	if img.XLoadflags != synthXLoadflags {
		t.Errorf("XLoadflags = 0x%X, want 0x%X", img.XLoadflags, synthXLoadflags)
	}
	if img.CmdlineSize != synthCmdlineSize {
		t.Errorf("CmdlineSize = %d, want %d", img.CmdlineSize, synthCmdlineSize)
	}
	if img.InitrdAddrMax != synthInitrdAddrMax {
		t.Errorf("InitrdAddrMax = 0x%X, want 0x%X", img.InitrdAddrMax, synthInitrdAddrMax)
	}
	if img.KernelAlignment != synthKernelAlign {
		t.Errorf("KernelAlignment = 0x%X, want 0x%X", img.KernelAlignment, synthKernelAlign)
	}
	if !img.RelocatableKernel {
		t.Errorf("RelocatableKernel = false, want true")
	}
	if img.PrefAddress != synthPrefAddress {
		t.Errorf("PrefAddress = 0x%X, want 0x%X", img.PrefAddress, synthPrefAddress)
	}
	if img.InitSize != synthInitSize {
		t.Errorf("InitSize = 0x%X, want 0x%X", img.InitSize, synthInitSize)
	}
	checkBytes(t, "Header", img.Header, data[0x1F1:synthHeaderEnd])
	checkBytes(t, "Kernel", kernelBytes(data, img), data[8*512:])
	if got := img.MemSize(); got != synthInitSize {
		t.Errorf("MemSize = 0x%X, want init_size 0x%X", got, synthInitSize)
	}
	if !IsBzImage(data) {
		t.Errorf("IsBzImage = false")
	}
}

func TestParseBzImageSetupSectsZero(t *testing.T) {
	// setup_sects 0 means 4: the kernel starts at 5*512 = 0xA00.
	data := synthBzImage(bzSpec{setupSects: 0, kernelLen: 512})
	img := mustParseBz(t, data)
	if img.SetupSects != 4 {
		t.Errorf("SetupSects = %d, want 4", img.SetupSects)
	}
	if len(data) != 0xA00+512 {
		t.Fatalf("helper built %d bytes", len(data))
	}
	checkBytes(t, "Kernel", kernelBytes(data, img), data[0xA00:])
	if img.Header[0] != 0 {
		t.Errorf("Header keeps the raw setup_sects: got %d, want 0", img.Header[0])
	}

	// A file that would hold a kernel only if 0 meant 0 sectors.
	short := data[:0xA00]
	_, err := parseBz(short)
	wantErr(t, err, "no protected-mode kernel")
}

func TestParseBzImageMemSizeKernelLarger(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 1, kernelLen: 4096})
	put32(data, 0x260, 100) // init_size smaller than the kernel
	img := mustParseBz(t, data)
	if got := img.MemSize(); got != 4096 {
		t.Errorf("MemSize = %d, want 4096", got)
	}
}

func TestParseBzImageHeaderEndClamped(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 4, kernelLen: 64})
	put8(data, 0x201, 0xFF) // header would end at 0x301
	img := mustParseBz(t, data)
	// bootparam.h: the setup header area of boot_params ends at 0x290.
	if got := 0x1F1 + len(img.Header); got != 0x290 {
		t.Errorf("header ends at 0x%X, want 0x290", got)
	}
}

func TestParseBzImageRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   string
	}{
		{"no HdrS", func(b []byte) []byte { copy(b[0x202:], "HdrX"); return b },
			"not a bzImage: missing HdrS magic at 0x202"},
		{"bad boot_flag", func(b []byte) []byte { put16(b, 0x1FE, 0x1234); return b },
			"not a bzImage: boot_flag at 0x1FE is 0x1234, want 0xAA55"},
		{"version 2.05", func(b []byte) []byte { put16(b, 0x206, 0x0205); return b },
			"boot protocol 2.05 (version 0x0205 at 0x206) is too old: need >= 2.06"},
		{"version 2.11", func(b []byte) []byte { put16(b, 0x206, 0x020B); return b },
			"boot protocol 2.11 (version 0x020B at 0x206) is too old: need >= 2.12"},
		{"no XLF_KERNEL_64", func(b []byte) []byte { put16(b, 0x236, 0x0002); return b },
			"xloadflags (0x236) is 0x0002, XLF_KERNEL_64 (bit 0) is clear"},
		{"no LOADED_HIGH", func(b []byte) []byte { put8(b, 0x211, 0x80); return b },
			"loadflags (0x211) is 0x80, LOADED_HIGH (bit 0) is clear"},
		{"short header", func(b []byte) []byte { put8(b, 0x201, 0x30); return b },
			"setup header ends at 0x232"},
		{"empty kernel", func(b []byte) []byte { return b[:8*512] },
			"no protected-mode kernel after the 4096 bytes of setup code"},
		{"kernel shorter than syssize", func(b []byte) []byte { return b[:len(b)-32] },
			"syssize (0x1F4) is 64 paragraphs (1024 bytes) but the protected-mode kernel is 992 bytes"},
		{"truncated empty", func(b []byte) []byte { return b[:0] },
			"file is 0 bytes, too short"},
		{"truncated at boot_flag", func(b []byte) []byte { return b[:0x1FF] },
			"file is 511 bytes, too short"},
		{"truncated in header", func(b []byte) []byte { return b[:0x250] },
			"file is 592 bytes, too short"},
		{"truncated before header end", func(b []byte) []byte { return b[:0x267] },
			"file is 615 bytes, too short"},
		{"truncated in setup", func(b []byte) []byte { return b[:0x400] },
			"setup_sects (0x1F1) is 7, so the setup code is 4096 bytes, but the file is 1024 bytes"},
		{"truncated at setup end", func(b []byte) []byte { return b[:8*512-1] },
			"the file is 4095 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.mutate(synthBzImage(bzSpec{setupSects: 7, kernelLen: 1024}))
			img, err := parseBz(data)
			if img != nil {
				t.Errorf("got an image with the error")
			}
			wantErr(t, err, tt.want)
		})
	}
}

func TestParseBzImageTruncatedEverywhere(t *testing.T) {
	// Every prefix shorter than setup+kernel must fail, never panic.
	data := synthBzImage(bzSpec{setupSects: 1, kernelLen: 32})
	for n := range len(data) - 15 {
		if _, err := parseBz(data[:n]); err == nil {
			t.Fatalf("ParseBzImage accepted a %d-byte prefix of a %d-byte image", n, len(data))
		}
	}
}

func TestIsBzImage(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 1, kernelLen: 16})
	if !IsBzImage(data[:0x206]) {
		t.Errorf("IsBzImage(first 0x206 bytes) = false")
	}
	if IsBzImage(data[:0x205]) {
		t.Errorf("IsBzImage(truncated magic) = true")
	}
	bad := bytes.Clone(data)
	put16(bad, 0x1FE, 0)
	if IsBzImage(bad) {
		t.Errorf("IsBzImage without boot_flag = true")
	}
	if IsBzImage(nil) || IsBzImage([]byte("\x7fELF")) {
		t.Errorf("IsBzImage(non-bzImage) = true")
	}
}

func TestCheckCmdline(t *testing.T) {
	img := mustParseBz(t, synthBzImage(bzSpec{setupSects: 1, kernelLen: 16}))
	ok := string(bytes.Repeat([]byte("a"), synthCmdlineSize))
	if err := CheckCmdline(img, ok); err != nil {
		t.Errorf("CheckCmdline(%d bytes): %v", len(ok), err)
	}
	if err := CheckCmdline(img, ""); err != nil {
		t.Errorf("CheckCmdline(empty): %v", err)
	}
	err := CheckCmdline(img, ok+"b")
	wantErr(t, err, "kernel command line is 2048 bytes; this kernel accepts at most 2047")
	err = CheckCmdline(img, "console=ttyS0\x00root=/dev/vda")
	wantErr(t, err, "NUL byte at offset 13")
}
