//go:build !linux

package kernels

import "testing"

// guarded returns a copy of b; only Linux has guard pages in these tests.
func guarded(_ testing.TB, b []byte, _ bool) []byte {
	return append([]byte(nil), b...)
}
