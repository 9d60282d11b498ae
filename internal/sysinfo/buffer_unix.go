//go:build unix

package sysinfo

import "syscall"

// allocBuffer maps n bytes of anonymous memory outside the Go heap, so
// that freeBuffer returns it to the system at once instead of leaving a
// gigabyte of garbage for the collector.
func allocBuffer(n int) ([]byte, error) {
	size := (n + pageSize - 1) / pageSize * pageSize
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	return b[:n], nil
}

func freeBuffer(b []byte) {
	_ = syscall.Munmap(b[:cap(b)])
}
