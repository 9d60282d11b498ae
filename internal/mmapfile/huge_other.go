//go:build unix && !linux

package mmapfile

// adviseHugePages has nothing to ask outside Linux.
func adviseHugePages([]byte) {}
