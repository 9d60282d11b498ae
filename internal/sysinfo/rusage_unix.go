//go:build unix

package sysinfo

import (
	"fmt"
	"runtime"
	"syscall"
)

// maxRSS returns getrusage(RUSAGE_SELF).ru_maxrss in bytes.
func maxRSS() (int64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("sysinfo: getrusage: %w", err)
	}
	v := int64(ru.Maxrss)
	// ru_maxrss is in bytes on Apple systems and in kilobytes elsewhere.
	if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
		v <<= 10
	}
	return v, nil
}
