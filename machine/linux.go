package machine

import "fmt"

func (m *Machine) loadKernel() error { return fmt.Errorf("-kernel: not yet") }
