package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/govmm/govmm/bench"
)

// guestRAM is the RAM of the guests in rows 3 and 4, govmm's default -m.
const guestRAM = 256 << 20

// The guests of rows 3 and 4: 16-bit real-mode code that both VMMs run
// from their first instruction. govmm loads it with -raw -raw-mode real;
// QEMU runs it as its firmware (qemuFirmware puts it at the reset vector).
// On an emulated-ring-0 host real mode is emulated for both alike.
var (
	// firstByteGuest: mov dx, 0x3f8; mov al, 'X'; out dx, al (COM1);
	// mov al, 0xfe; out 0x64, al (i8042 reset: govmm exits 0); out 0xf4,
	// al (QEMU's isa-debug-exit: QEMU exits 253; govmm never gets here);
	// jmp $.
	firstByteGuest = []byte{0xba, 0xf8, 0x03, 0xb0, 'X', 0xee, 0xb0, 0xfe, 0xe6, 0x64, 0xe6, 0xf4, 0xeb, 0xfe}
	// spinGuest: the same 'X' on COM1, then jmp $ (a busy vCPU).
	spinGuest = []byte{0xba, 0xf8, 0x03, 0xb0, 'X', 0xee, 0xeb, 0xfe}
)

// qemuDebugExit is QEMU's exit status after firstByteGuest's out 0xf4
// (isa-debug-exit: (0xfe << 1 | 1) & 0xff).
const qemuDebugExit = 253

// writeGuest writes a raw guest image into the build directory.
func (s *suite) writeGuest(name string, img []byte) (string, error) {
	p := filepath.Join(s.build, "bench", name)
	return p, os.WriteFile(p, img, 0o644)
}

// qemuFirmware writes a 64 KiB firmware image (QEMU wants a multiple of
// 64 KiB) with code at the reset vector, offset 0xfff0 (the CPU starts at
// CS base 0xffff0000, IP 0xfff0), the rest hlt.
func (s *suite) qemuFirmware(name string, code []byte) (string, error) {
	img := bytes.Repeat([]byte{0xf4}, 64<<10)
	if len(code) > 16 {
		return "", fmt.Errorf("reset-vector code of %d bytes: at most 16 fit", len(code))
	}
	copy(img[0xfff0:], code)
	return s.writeGuest(name, img)
}

// tinyGuest is one raw guest both VMMs run.
type tinyGuest struct {
	govmm, qemu []string // command lines
}

// newTinyGuest writes code for both VMMs and returns their command lines:
// govmm -raw in real mode, and QEMU microvm (its lightest machine) with the
// code as its firmware, no option ROMs, and isa-debug-exit on port 0xf4.
func (s *suite) newTinyGuest(name string, code []byte) (tinyGuest, error) {
	var g tinyGuest
	raw, err := s.writeGuest(name+".bin", code)
	if err != nil {
		return g, err
	}
	fw, err := s.qemuFirmware(name+"-fw.bin", code)
	if err != nil {
		return g, err
	}
	g.govmm = []string{s.govmm, "run", "-raw", raw, "-raw-mode", "real", "-m", fmt.Sprintf("%dM", guestRAM>>20), "-timeout", "2m"}
	if s.qemu != "" {
		g.qemu = append(s.qemuBase("microvm,x-option-roms=off", guestRAM), "-device", "isa-debug-exit,iobase=0xf4,iosize=1", "-bios", fw)
	}
	return g, nil
}

// startupOnce runs one VMM on firstByteGuest and returns exec→first serial
// byte and exec→exit.
func startupOnce(label string, argv []string, wantCode int) (first, exit time.Duration, err error) {
	p, err := startVMM(label, argv)
	if err != nil {
		return 0, 0, err
	}
	if !p.wait(time.Minute) {
		return 0, 0, fmt.Errorf("did not exit within a minute: %s", p.describe())
	}
	out, _ := p.output()
	if p.code != wantCode || out != "X" {
		return 0, 0, fmt.Errorf("want stdout \"X\" and exit %d: %s", wantCode, p.describe())
	}
	return p.first(), p.exitAt, nil
}

// rowStartup is row 3: exec to the first serial byte, govmm against QEMU
// microvm, both running the same real-mode guest from its first
// instruction (firstByteGuest), which prints 'X' on COM1 at once and then
// ends the VM. Exec to exit is in the notes.
func (s *suite) rowStartup() {
	const id, name = "3", "start-up to first serial byte"
	runs := 10
	if s.quick {
		runs = 2
	}
	tg, err := s.newTinyGuest("firstbyte", firstByteGuest)
	if err != nil {
		s.broke(id, name, err)
		return
	}
	s.progress("row 3: start-up: one warm-up run each (not counted), then %d alternated runs", runs)
	if _, _, err := startupOnce("govmm", tg.govmm, 0); err != nil {
		s.broke(id, name, err)
		return
	}
	if tg.qemu != nil {
		if _, _, err := startupOnce("qemu", tg.qemu, qemuDebugExit); err != nil {
			s.broke(id, name, err)
			return
		}
	}
	var g, ge, q, qe []float64
	for i := 1; i <= runs; i++ {
		f, e, err := startupOnce("govmm", tg.govmm, 0)
		if err != nil {
			s.broke(id, name, err)
			return
		}
		g, ge = append(g, float64(f.Nanoseconds())), append(ge, float64(e.Nanoseconds()))
		if tg.qemu == nil {
			continue
		}
		if f, e, err = startupOnce("qemu", tg.qemu, qemuDebugExit); err != nil {
			s.broke(id, name, err)
			return
		}
		q, qe = append(q, float64(f.Nanoseconds())), append(qe, float64(e.Nanoseconds()))
	}
	gm, gem := bench.Median(g), bench.Median(ge)
	s.progress("row 3: govmm median %s, QEMU median %s", fmtNs(gm), fmtNs(bench.Median(q)))
	row := bench.Row{ID: id, Name: name, Govmm: fmtNs(gm) + " exec→'X'"}
	what := fmt.Sprintf("no goal; ratio = govmm ÷ QEMU, exec to the first byte on stdout; both run the same %d-byte real-mode guest from its first instruction (out 'X' to COM1, then end the VM); govmm: `govmm run -raw -raw-mode real -m %dM`, exec→exit %s; ",
		len(firstByteGuest), guestRAM>>20, fmtNs(gem))
	if tg.qemu == nil {
		row.Ref, row.Ratio = "n/a", "-"
		row.Notes = what + s.qemuWhy + fmt.Sprintf("; median of %d runs (%s)", runs, spread(g, fmtNs))
	} else {
		qm, qem := bench.Median(q), bench.Median(qe)
		row.Ref, row.Ratio = fmtNs(qm)+" exec→'X' (QEMU microvm)", bench.Ratio(gm, qm)
		row.Notes = what + fmt.Sprintf("QEMU: `%s` (the guest is its firmware, at the reset vector), exec→exit %s (govmm ÷ QEMU %s); median of %d alternated runs; to 'X': govmm %s, QEMU %s",
			showArgv(tg.qemu), fmtNs(qem), bench.Ratio(gem, qem), runs, spread(g, fmtNs), spread(q, fmtNs))
	}
	s.add(row)
}

// settle is how long a VMM runs after its guest's first byte before its
// smaps is read.
const settle = 700 * time.Millisecond

// spinOverhead runs spinGuest in one VMM and measures its RSS once the
// guest has printed and spun for settle.
func spinOverhead(label string, argv []string) (bench.Overhead, error) {
	p, err := startVMM(label, argv)
	if err != nil {
		return bench.Overhead{}, err
	}
	defer p.stop()
	if !p.waitFor(time.Minute, func() bool { return p.firstByte != 0 }) {
		return bench.Overhead{}, fmt.Errorf("no 'X' from the guest within a minute: %s", p.describe())
	}
	time.Sleep(settle)
	o, err := readOverheadOf(p.cmd.Process.Pid, guestRAM)
	if err != nil {
		return o, fmt.Errorf("%s smaps: %v (%s)", label, err, p.describe())
	}
	return o, nil
}

// rowMemory is row 4: the VMM's own resident memory without the guest's
// RAM, govmm against QEMU microvm, both running the same real-mode guest
// (spinGuest: print 'X', then spin).
func (s *suite) rowMemory() {
	const id, name = "4", "memory overhead (RSS − guest RAM)"
	runs := 3
	if s.quick {
		runs = 1
	}
	tg, err := s.newTinyGuest("spin", spinGuest)
	if err != nil {
		s.broke(id, name, err)
		return
	}
	var g, q []float64
	var lg, lq bench.Overhead
	for i := 1; i <= runs; i++ {
		s.progress("row 4: memory, run %d/%d: govmm, %d MiB guest printing 'X' then spinning", i, runs, guestRAM>>20)
		o, err := spinOverhead("govmm", tg.govmm)
		if err != nil {
			s.broke(id, name, err)
			return
		}
		g, lg = append(g, float64(o.VMM())), o
		if tg.qemu == nil {
			continue
		}
		s.progress("row 4: memory, run %d/%d: QEMU microvm, the same guest", i, runs)
		if o, err = spinOverhead("qemu", tg.qemu); err != nil {
			s.broke(id, name, err)
			return
		}
		q, lq = append(q, float64(o.VMM())), o
	}
	gm := bench.Median(g)
	row := bench.Row{ID: id, Name: name, Govmm: fmtBytes(gm)}
	notes := fmt.Sprintf("goal < 5 MiB (%s); ratio = govmm ÷ QEMU; Rss summed over /proc/PID/smaps minus the Rss of the %d MiB anonymous guest RAM mapping, %v after the guest's 'X'; both VMMs run the same real-mode guest (out 'X' to COM1, then jmp $); govmm last run: total %s, guest %s, file-backed %s",
		goal(gm < 5<<20), guestRAM>>20, settle, fmtBytes(float64(lg.TotalRss)), fmtBytes(float64(lg.GuestRss)), fmtBytes(float64(lg.FileRss)))
	if tg.qemu == nil {
		row.Ref, row.Ratio = "n/a", "-"
		row.Notes = notes + "; " + s.qemuWhy
	} else {
		qm := bench.Median(q)
		row.Ref, row.Ratio = fmtBytes(qm)+" (QEMU microvm)", bench.Ratio(gm, qm)
		row.Notes = notes + fmt.Sprintf("; QEMU microvm (row 3's command line) last run: total %s, guest %s, file-backed %s; median of %d alternated runs each",
			fmtBytes(float64(lq.TotalRss)), fmtBytes(float64(lq.GuestRss)), fmtBytes(float64(lq.FileRss)), runs)
	}
	s.add(row)
}

// fmtBytes formats a byte count in MiB.
func fmtBytes(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
