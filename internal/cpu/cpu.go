// Package cpu detects, once, the x86 SIMD features smolbot's kernels use and
// condenses them into a Level that kernel packages dispatch on.
//
// The level can be capped from outside with SMOLBOT_CPU=generic|avx2|avx512
// (for benchmark comparisons and for ruling out a SIMD bug), and from tests
// with Force, which returns a function that restores the previous level.
package cpu

import (
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/cpu"
)

// Level is a tier of SIMD support. Higher levels include everything below.
type Level int

// The levels, in increasing order.
const (
	// Generic is pure Go, available everywhere.
	Generic Level = iota
	// AVX2 means AVX2, FMA, F16C and BMI2 (Haswell, Zen 1 and later).
	AVX2
	// AVX512 means AVX-512 F, BW, VL and DQ plus AVX512-VNNI (Ice Lake,
	// Cascade Lake, Zen 4 and later). Kernels at this level use vpdpwssd
	// and vpdpbusd, so a Skylake-X without VNNI runs the AVX2 kernels.
	AVX512
)

// String returns the lower-case name also accepted by SMOLBOT_CPU.
func (l Level) String() string {
	switch l {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return "unknown"
}

// ParseLevel parses a level name as used by SMOLBOT_CPU ("generic", "avx2",
// "avx512"; case-insensitive).
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "generic", "purego", "none":
		return Generic, true
	case "avx2":
		return AVX2, true
	case "avx512", "avx-512":
		return AVX512, true
	}
	return Generic, false
}

// Features are the individual CPU capabilities behind the levels, as
// detected (not capped by SMOLBOT_CPU or Force).
type Features struct {
	AVX2, FMA, F16C, BMI2            bool
	AVX512F, AVX512BW, AVX512VL      bool
	AVX512DQ, AVX512VNNI, AVX512BF16 bool
}

var (
	detected Features
	hwLevel  Level // best level the hardware supports

	mu        sync.Mutex
	current   Level // level in force: min(hwLevel, env cap) or forced
	listeners []func(Level)
)

func init() {
	x := &cpu.X86
	detected = Features{
		AVX2: x.HasAVX2, FMA: x.HasFMA, F16C: x.HasF16C, BMI2: x.HasBMI2,
		AVX512F: x.HasAVX512F, AVX512BW: x.HasAVX512BW, AVX512VL: x.HasAVX512VL,
		AVX512DQ: x.HasAVX512DQ, AVX512VNNI: x.HasAVX512VNNI, AVX512BF16: x.HasAVX512BF16,
	}
	hwLevel = levelOf(detected)
	current = hwLevel
	if s, ok := os.LookupEnv("SMOLBOT_CPU"); ok {
		if l, ok := ParseLevel(s); ok && l < current {
			current = l
		}
	}
}

func levelOf(f Features) Level {
	if !(f.AVX2 && f.FMA && f.F16C && f.BMI2) {
		return Generic
	}
	if f.AVX512F && f.AVX512BW && f.AVX512VL && f.AVX512DQ && f.AVX512VNNI {
		return AVX512
	}
	return AVX2
}

// Detected returns the features of the machine, whatever the current cap.
func Detected() Features { return detected }

// Hardware returns the best level the machine supports, ignoring
// SMOLBOT_CPU and Force.
func Hardware() Level { return hwLevel }

// Best returns the level kernels should use now: the hardware level, capped
// by SMOLBOT_CPU, or whatever Force set.
func Best() Level {
	mu.Lock()
	defer mu.Unlock()
	return current
}

// Has reports whether level l can run on this machine (l <= Hardware()).
func Has(l Level) bool { return l <= hwLevel }

// OnChange registers fn to be called with the new level whenever Force
// changes it, and once immediately with the current level. Kernel packages
// use it to re-select their function values; it is meant for package init.
func OnChange(fn func(Level)) {
	mu.Lock()
	defer mu.Unlock()
	listeners = append(listeners, fn)
	fn(current)
}

// Force sets the level used by kernels to l, or to the hardware level if l is
// higher, and returns a function that restores the previous level. It is for
// tests and benchmarks that compare levels; it must not race with kernel
// calls running on other goroutines.
func Force(l Level) (restore func()) {
	mu.Lock()
	prev := current
	mu.Unlock()
	set(min(l, hwLevel))
	return func() { set(prev) }
}

func set(l Level) {
	mu.Lock()
	defer mu.Unlock()
	current = l
	for _, fn := range listeners {
		fn(l)
	}
}
