//go:build !amd64 || purego

package kernels

import "github.com/smolbot/smolbot/internal/cpu"

// archKernels keeps the generic kernels: there is no assembly on this
// platform or in purego builds.
func archKernels(cpu.Level, *[maxType]kernel) {}
