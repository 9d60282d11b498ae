// Package sysinfo measures the machine and the process for benchmarks: the
// peak resident set size (to check that model weights stay mapped rather
// than copied) and the memory read bandwidth (the ceiling of decode speed,
// which must stream every weight once per token).
package sysinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrUnsupported is returned (wrapped) when a figure cannot be measured on
// this operating system.
var ErrUnsupported = errors.New("not supported on this system")

// PeakRSS returns the largest resident set size the process has had, in
// bytes. On Linux it reads VmHWM from /proc/self/status, which counts
// mapped file pages (the model weights) as well as the heap; elsewhere, or
// without /proc, it falls back to getrusage's ru_maxrss.
func PeakRSS() (int64, error) {
	if v, err := procStatus("VmHWM"); err == nil {
		return v, nil
	}
	return maxRSS()
}

// CurrentRSS returns the process's resident set size now, in bytes (VmRSS
// from /proc/self/status). It returns an error wrapping ErrUnsupported
// where /proc is not available.
func CurrentRSS() (int64, error) {
	return procStatus("VmRSS")
}

// procStatus returns a "kB" field of /proc/self/status in bytes.
func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("sysinfo: %w: %v", ErrUnsupported, err)
	}
	return parseStatus(b, field)
}

// parseStatus finds "field:   1234 kB" in the contents of a
// /proc/<pid>/status file and returns the value in bytes.
func parseStatus(b []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(rest), " ")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v < 0 || strings.TrimSpace(unit) != "kB" {
			return 0, fmt.Errorf("sysinfo: malformed %s line %q", field, sc.Text())
		}
		return v << 10, nil
	}
	return 0, fmt.Errorf("sysinfo: %w: no %s in /proc/self/status", ErrUnsupported, field)
}

// CPUModel returns the processor's model name ("AMD EPYC 9B14", …) from
// /proc/cpuinfo, or "" if it is not known.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}
