package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseSize parses a memory size as QEMU's -m does: a plain number is MiB;
// K, M, G and T suffixes (optionally followed by "B" or "iB") are binary
// multiples.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := uint64(1 << 20)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		case 'T':
			mult, t = 1<<40, t[:n-1]
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("-m %q: not a size (examples: 256M, 1G, 512)", s)
	}
	if v > (1<<46)/mult {
		return 0, fmt.Errorf("-m %q: too large", s)
	}
	return v * mult, nil
}

// parseAddr parses a guest address in decimal or 0x hex.
func parseAddr(flag, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: not an address", flag, s)
	}
	return v, nil
}
