package machine

import (
	"runtime"
	"sync"
)

// procsMu serializes reserveProcs and its releases, so that machines
// running at once in one process each add and take back their own Ps.
var procsMu sync.Mutex

// reserveProcs adds n Ps to Go's scheduler (GOMAXPROCS) and returns the
// function that takes them back. A VCPU goroutine keeps its P while its
// guest runs a hot stretch (hotpath.go, kvm.VCPU.RunHot); with one P more
// per VCPU, device goroutines never wait for those.
func reserveProcs(n int) (release func()) {
	procsMu.Lock()
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + n)
	procsMu.Unlock()
	return func() {
		procsMu.Lock()
		runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0)-n, 1))
		procsMu.Unlock()
	}
}
