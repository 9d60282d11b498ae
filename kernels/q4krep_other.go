//go:build !amd64 || purego

package kernels

import "github.com/smolbot/smolbot/internal/cpu"

// archQ4KRep keeps the generic repacked-form Q4_K kernels.
func archQ4KRep(cpu.Level) {}

// archQ40Rep keeps the generic repacked-form Q4_0 kernels.
func archQ40Rep(cpu.Level) {}
