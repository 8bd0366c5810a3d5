package nestedhost

// The host and the L1 talk through files in the run directory, which the
// host creates and shares with the L1 read-write over virtio-9p (mount tag
// runTag). The host writes the job; the L1 writes its boot time and, last,
// the status.
const (
	jobFile    = "job.json"
	readyFile  = "ready.json"
	statusFile = "status.json"

	hostRootTag = "hostroot"  // this machine's "/", read-only
	runTag      = "nestedrun" // the run directory, read-write
)

// job is what the L1 runs: the command, its environment and its directory.
type job struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
}

// ready is written by the L1 once /dev/kvm exists and the host root is
// mounted, just before the command starts.
type ready struct {
	// Uptime is the L1 kernel's /proc/uptime at that moment, in seconds.
	Uptime float64 `json:"uptime"`
	// Kernel is the L1's uname release.
	Kernel string `json:"kernel"`
	// KVM is true when /dev/kvm could be opened.
	KVM bool `json:"kvm"`
}

// status is the L1's last word: the command's exit status, or why it could
// not run.
type status struct {
	// Exit is the command's exit code; 128+N when signal N killed it.
	Exit int `json:"exit"`
	// Error, when set, says what stopped the L1 before or instead of the
	// command (a module that did not load, a mount that failed).
	Error string `json:"error,omitempty"`
}
