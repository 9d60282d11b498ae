//go:build !amd64 || purego

package sysinfo

// readSum reads all of b (a multiple of readAlign bytes) and returns a sum
// that depends on every byte.
func readSum(b []byte) uint64 { return readSumGo(b) }

func readLoopName() string { return "go" }
