package mmapfile

import "golang.org/x/sys/unix"

// adviseHugePages asks Linux to back the mapping with 2 MiB pages where it
// can. Decode streams every weight once per token; with 4 KiB pages that
// is a TLB miss and a hardware-prefetcher restart every 4 KiB, and decode
// is 3–4% slower (measured on a 3B Q4_K_M, alternating rounds in one
// process). Linux maps a file with 2 MiB pages when its page cache holds
// 2 MiB folios: the advice makes faults on an uncached file read ahead in
// such folios (ext4 and xfs, Linux ≥ 6.16 for ext4), and files written in
// aligned chunks of at least 2 MiB (see Writer) are cached that way from
// the start. It is only advice: a kernel without transparent huge pages,
// or THP set to "never", refuses it and nothing changes.
func adviseHugePages(b []byte) {
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
}
