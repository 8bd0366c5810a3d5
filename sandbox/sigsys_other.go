//go:build !(linux && amd64)

package sandbox

import "errors"

// setSIGSYSHandler: the handler is written for linux/amd64 only.
func setSIGSYSHandler() (restore func(), err error) {
	return nil, errors.New("not supported on this platform")
}
