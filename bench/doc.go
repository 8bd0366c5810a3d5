// Package bench holds the pieces of govmm's benchmark suite
// (bench/cmd/govmm-bench) that need no KVM: the result table, medians, the
// /proc/PID/smaps parser and the parsers for what the reference programs,
// dd and `govmm -stats` print, and the host side of the blkbench guest
// (testdata/guests/blkbench).
package bench
