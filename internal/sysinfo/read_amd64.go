//go:build amd64 && !purego

package sysinfo

import "github.com/smolbot/smolbot/internal/cpu"

// readSumAVX2 sums n bytes at p as uint64 lanes with 256-bit loads; n is a
// positive multiple of 256. Needs AVX2.
//
//go:noescape
func readSumAVX2(p *byte, n int) uint64

// hasAVX2 is the hardware's capability, not the SMOLBOT_CPU cap: the
// bandwidth is a property of the machine, and capping the loop would only
// make the roofline look better than it is.
var hasAVX2 = cpu.Detected().AVX2

// readSum reads all of b (a multiple of readAlign bytes) and returns a sum
// that depends on every byte.
func readSum(b []byte) uint64 {
	if hasAVX2 && len(b) > 0 {
		return readSumAVX2(&b[0], len(b))
	}
	return readSumGo(b)
}

func readLoopName() string {
	if hasAVX2 {
		return "avx2"
	}
	return "go"
}
