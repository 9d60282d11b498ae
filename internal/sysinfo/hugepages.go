package sysinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// ErrNoSmaps is returned by HugeMapped where /proc/self/smaps does not exist
// (systems other than Linux).
var ErrNoSmaps = errors.New("sysinfo: /proc/self/smaps is not available")

// HugeMapped returns how many bytes of the memory b are resident and how
// many of those are mapped with huge pages (transparent huge pages of a
// file or of anonymous memory), from /proc/self/smaps. Decode streams all
// weights every token, so a model mapped with 4 KiB pages pays a TLB miss
// and a prefetcher restart every 4 KiB: the benchmark reports the share.
func HugeMapped(b []byte) (resident, huge int64, err error) {
	if len(b) == 0 {
		return 0, 0, nil
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, 0, ErrNoSmaps
		}
		return 0, 0, fmt.Errorf("sysinfo: %w", err)
	}
	defer f.Close()
	lo := uint64(uintptr(unsafe.Pointer(&b[0])))
	return parseSmaps(f, lo, lo+uint64(len(b)))
}

// parseSmaps sums Rss and the huge-page fields of the mappings in smaps
// that lie within [lo, hi). Mappings that only partly overlap (a mapping
// split by madvise, say) count in proportion to the overlap.
func parseSmaps(r io.Reader, lo, hi uint64) (resident, huge int64, err error) {
	sc := bufio.NewScanner(r)
	var frac float64 // share of the current mapping inside [lo, hi); 0 outside
	for sc.Scan() {
		line := sc.Bytes()
		if start, end, ok := smapsRange(line); ok {
			a, z := max(start, lo), min(end, hi)
			frac = 0
			if z > a && end > start {
				frac = float64(z-a) / float64(end-start)
			}
			continue
		}
		if frac == 0 {
			continue
		}
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "Rss":
			dst = &resident
		case "FilePmdMapped", "AnonHugePages", "ShmemPmdMapped":
			dst = &huge
		default:
			continue
		}
		fields := bytes.Fields(val)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, 0, fmt.Errorf("sysinfo: smaps: unexpected line %q", line)
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("sysinfo: smaps: %q: %w", line, err)
		}
		*dst += int64(float64(kb<<10) * frac)
	}
	return resident, huge, sc.Err()
}

// smapsRange parses a mapping's header line, "start-end perms offset dev
// inode [path]", returning its address range.
func smapsRange(line []byte) (start, end uint64, ok bool) {
	first, _, _ := bytes.Cut(line, []byte(" "))
	a, z, found := bytes.Cut(first, []byte("-"))
	if !found || len(a) == 0 || len(z) == 0 {
		return 0, 0, false
	}
	start, err1 := strconv.ParseUint(string(a), 16, 64)
	end, err2 := strconv.ParseUint(string(z), 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return start, end, true
}

// TransparentHugePages returns Linux's transparent-huge-page mode for
// anonymous memory and files mapped with advice: "always", "madvise" or
// "never", or "" where it cannot be read.
func TransparentHugePages() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	return thpMode(string(b))
}

// thpMode picks the bracketed choice out of "always [madvise] never".
func thpMode(s string) string {
	_, rest, ok := strings.Cut(s, "[")
	mode, _, ok2 := strings.Cut(rest, "]")
	if !ok || !ok2 {
		return ""
	}
	return mode
}
