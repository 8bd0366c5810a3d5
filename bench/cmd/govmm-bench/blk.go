package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/govmm/govmm/bench"
)

// rowBlock is row 5: sequential read throughput of virtio-blk. The blkbench
// guest reads the whole disk with large requests, several in flight,
// polling the used ring; the time is taken between its start and end marks
// (two port exits). The reference is dd reading the same file on the host
// with 1 MiB blocks, after the same page-cache warm-up.
func (s *suite) rowBlock() {
	const id, name = "5", "virtio-blk sequential read"
	// One pass takes well under a second: five runs each steady the
	// median on a shared machine.
	size, req, inflight, runs := uint64(256<<20), uint32(1<<20), uint32(8), 5
	if s.quick {
		size, req, inflight, runs = 8<<20, 256<<10, 4, 1
	}
	dir, err := os.MkdirTemp("", "govmm-bench-")
	if err != nil {
		s.broke(id, name, err)
		return
	}
	defer os.RemoveAll(dir)
	disk := filepath.Join(dir, "disk.img")
	s.progress("row 5: writing a %d MiB disk image of stamped random data in %s", size>>20, dir)
	if err := bench.MakeDisk(disk, size); err != nil {
		s.broke(id, name, err)
		return
	}
	s.progress("row 5: warming the page cache (reading the image once)")
	if err := readAll(disk); err != nil {
		s.broke(id, name, err)
		return
	}
	p := bench.BlkParams{Mode: bench.BlkModeRead, Count: size, ReqBytes: req, Inflight: inflight, BufBase: 2 << 20, Stamp: bench.StampXor}
	var g, d []float64
	for i := 1; i <= runs; i++ {
		s.progress("row 5: read, run %d/%d: govmm (blkbench guest reads %d MiB, %d KiB requests, %d in flight)", i, runs, size>>20, req>>10, inflight)
		r, err := s.runBlkbench(disk, p, 64<<20, 2*time.Minute)
		if err != nil {
			s.broke(id, name, err)
			return
		}
		if r.res.Bytes != size || r.res.Pages != size/4096 || r.res.Requests != size/uint64(req) {
			s.broke(id, name, fmt.Errorf("guest read %d bytes in %d requests and checked %d pages; want %d, %d, %d",
				r.res.Bytes, r.res.Requests, r.res.Pages, size, size/uint64(req), size/4096))
			return
		}
		g = append(g, mibps(size, r.elapsed.Seconds()))
		s.progress("row 5: read, run %d/%d: dd if=%s of=/dev/null bs=1M", i, runs, disk)
		v, err := ddRead(disk, size)
		if err != nil {
			s.broke(id, name, err)
			return
		}
		d = append(d, v)
	}
	gm, dm := bench.Median(g), bench.Median(d)
	s.add(bench.Row{ID: id, Name: name,
		Govmm: fmt.Sprintf("%.0f MiB/s", gm), Ref: fmt.Sprintf("%.0f MiB/s (dd)", dm), Ratio: bench.Ratio(gm, dm),
		Notes: fmt.Sprintf("goal ≥ 1024 MiB/s (%s); %d MiB from the page cache, %d KiB requests × %d in flight, polled, every 4 KiB page's stamp checked; median of %d alternated runs; govmm %s, dd %s",
			goal(gm >= 1024), size>>20, req>>10, inflight, runs, spread(g, fmtMiBps), spread(d, fmtMiBps)),
	})
}

// readAll reads a file once, to put it in the page cache.
func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// ddRead runs dd over the file and returns its throughput in MiB/s, from
// the bytes and seconds dd reports.
func ddRead(path string, size uint64) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "dd", "if="+path, "of=/dev/null", "bs=1M")
	c.Env = append(os.Environ(), "LC_ALL=C")
	out, err := c.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("dd: %v: %s", err, out)
	}
	n, sec, err := bench.ParseDD(string(out))
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("dd copied %d bytes, want %d", n, size)
	}
	return mibps(n, sec), nil
}

func mibps(bytes uint64, sec float64) float64 { return float64(bytes) / (1 << 20) / sec }

func fmtMiBps(v float64) string { return fmt.Sprintf("%.0f", v) }

// goal says whether a goal was met.
func goal(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}
