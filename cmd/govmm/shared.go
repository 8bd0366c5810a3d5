package main

import "sync"

// shared is a tiny mutex-guarded cell for values shared between the signal
// goroutine and the main one.
type shared[T any] struct {
	mu sync.Mutex
	v  T
}

func (a *shared[T]) store(v T) { a.mu.Lock(); a.v = v; a.mu.Unlock() }
func (a *shared[T]) load() T   { a.mu.Lock(); defer a.mu.Unlock(); return a.v }
