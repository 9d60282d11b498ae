//go:build linux

package kernels

import (
	"syscall"
	"testing"
)

// guarded returns a copy of b placed so that the byte after its end (or, if
// atStart, the byte before its start) is the first byte of an inaccessible
// page: a kernel that reads out of bounds faults instead of silently reading
// neighbouring memory.
func guarded(t testing.TB, b []byte, atStart bool) []byte {
	page := syscall.Getpagesize()
	n := (len(b) + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, n+2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	if err := syscall.Mprotect(mem[page+n:], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	var out []byte
	if atStart {
		out = mem[page : page+len(b) : page+len(b)]
	} else {
		out = mem[page+n-len(b) : page+n : page+n]
	}
	copy(out, b)
	return out
}
