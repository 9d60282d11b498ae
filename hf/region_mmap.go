//go:build linux || darwin

package hf

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// region is one contiguous span of address space assembled from an
// anonymous, writable part (the GGUF header and the few tensors that must
// be transformed) and read-only shared mappings of whole files placed at
// page-aligned offsets with MAP_FIXED. It lets a *gguf.File, which reads
// every tensor from one []byte, see safetensors data without copying it.
type region struct {
	base unsafe.Pointer
	size uintptr
	b    []byte
}

// reserve claims size bytes of address space, of which the first writable
// bytes are zeroed read-write memory. The rest is PROT_NONE until files are
// mapped over it, so that the kernel does not count the whole model against
// the commit limit (a writable anonymous reservation of a 6 GB checkpoint
// could fail on a small machine under heuristic overcommit).
func reserve(size, writable int) (*region, error) {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(size), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("hf: reserving %d bytes of address space: %w", size, err)
	}
	r := &region{base: p, size: uintptr(size), b: unsafe.Slice((*byte)(p), size)}
	page := os.Getpagesize()
	if w := min((writable+page-1)/page*page, size); w > 0 {
		if err := unix.Mprotect(r.b[:w], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			r.release()
			return nil, fmt.Errorf("hf: allocating %d bytes: %w", w, err)
		}
	}
	return r, nil
}

// mapFile replaces [off, off+size) (off page-aligned) with a read-only
// shared mapping of the first size bytes of f.
func (r *region) mapFile(off int, f *os.File, size int) error {
	if size == 0 {
		return nil
	}
	if off < 0 || off%os.Getpagesize() != 0 || off+size > len(r.b) {
		return fmt.Errorf("hf: bad mapping [%d, %d) in a region of %d bytes", off, off+size, len(r.b))
	}
	addr := unsafe.Add(r.base, off)
	p, err := unix.MmapPtr(int(f.Fd()), 0, addr, uintptr(size), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		return fmt.Errorf("hf: mapping %s: %w", f.Name(), err)
	}
	if p != addr {
		return fmt.Errorf("hf: mapping %s: kernel placed it elsewhere", f.Name())
	}
	return nil
}

// seal makes [0, n) read-only once the header and copies are written, so
// that no code can modify the weights through the File.
func (r *region) seal(n int) error {
	n = n / os.Getpagesize() * os.Getpagesize()
	if n == 0 {
		return nil
	}
	return unix.Mprotect(r.b[:n], unix.PROT_READ)
}

// release unmaps the whole region, file mappings included.
func (r *region) release() error {
	if r.base == nil {
		return nil
	}
	err := unix.MunmapPtr(r.base, r.size)
	r.base, r.b = nil, nil
	return err
}
