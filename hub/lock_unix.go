//go:build unix

package hub

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive advisory lock on the partial download, so two
// processes never append to the same file. The kernel drops it when the
// file is closed or the process dies, so no stale lock survives a crash.
func lockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}
