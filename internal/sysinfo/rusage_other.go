//go:build !unix

package sysinfo

import "fmt"

func maxRSS() (int64, error) {
	return 0, fmt.Errorf("sysinfo: peak RSS: %w", ErrUnsupported)
}
