package e2e

import "github.com/govmm/govmm/compat"

func hostEmulatesRing0() bool { return compat.DetectHost().EmulatedRing0 }
