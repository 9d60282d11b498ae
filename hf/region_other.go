//go:build !(linux || darwin)

package hf

import (
	"fmt"
	"io"
	"os"
)

// region falls back to one heap buffer where MAP_FIXED file mappings are
// not available: the files are read into it, which costs their size in
// memory, but the same layout code serves every platform.
type region struct{ b []byte }

func reserve(size, _ int) (*region, error) { return &region{b: make([]byte, size)}, nil }

func (r *region) mapFile(off int, f *os.File, size int) error {
	if off < 0 || off+size > len(r.b) {
		return fmt.Errorf("hf: bad mapping [%d, %d) in a region of %d bytes", off, off+size, len(r.b))
	}
	_, err := io.ReadFull(io.NewSectionReader(f, 0, int64(size)), r.b[off:off+size])
	return err
}

func (r *region) seal(int) error { return nil }

func (r *region) release() error { r.b = nil; return nil }
