//go:build !unix

package sysinfo

func allocBuffer(n int) ([]byte, error) { return make([]byte, n), nil }

func freeBuffer([]byte) {}
