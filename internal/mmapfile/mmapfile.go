// Package mmapfile maps whole model files read-only into memory, so weights
// are zero-copy views that cost page cache only once however many processes
// (or reloads) use them. Where mmap is unavailable the file is read instead.
package mmapfile

import (
	"fmt"
	"os"
)

// Map maps the regular file at path and returns its bytes and a function
// that releases them. The bytes must not be used after release.
func Map(path string) (data []byte, release func() error, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() == 0 {
		return nil, func() error { return nil }, nil
	}
	data, release, err = mapFile(fd, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return data, release, nil
}
