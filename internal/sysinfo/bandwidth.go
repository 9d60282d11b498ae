package sysinfo

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
	"unsafe"
)

// Bandwidth is the result of a read-bandwidth measurement.
type Bandwidth struct {
	// Best is the fastest pass in bytes per second: the figure to compare
	// with, since on a shared machine a pass is only ever slowed down.
	Best float64
	// Median is the median read bandwidth over the measured time, in
	// bytes per second: each pass counts for the time it took, so that a
	// burst of fast passes counts no more than the same time of slow ones.
	// (With bursts of equal duration between a benchmark's repetitions,
	// every burst then weighs the same, as every repetition does; a median
	// over passes would lean towards the moments when memory was fast,
	// since more passes fit in them.)
	Median float64
	// Passes is the number of timed passes over the buffer.
	Passes int
	// Bytes is the number of bytes read per pass.
	Bytes int64
	// Threads is the number of goroutines that read in parallel.
	Threads int
	// Loop names the read loop: "avx2" (assembly) or "go".
	Loop string
}

// readAlign is the granularity of the read loops: each thread's part of the
// buffer is a multiple of it (the assembly loop reads 256 bytes per step).
const readAlign = 256

// Limits of MeasureReadBandwidth's arguments.
const (
	minBandwidthBuffer = 4 << 10
	maxBandwidthThread = 1 << 10
	minPasses          = 3
)

// ReadBandwidth returns the machine's memory read bandwidth in bytes per
// second, the best pass of MeasureReadBandwidth.
func ReadBandwidth(threads int, bufBytes int64, minDuration time.Duration) (float64, error) {
	m, err := MeasureReadBandwidth(threads, bufBytes, minDuration)
	return m.Best, err
}

// MeasureReadBandwidth measures how fast threads goroutines can read a
// buffer of bufBytes bytes, in passes over the whole buffer for at least
// minDuration (and at least three passes). It is NewReadBench, one Run and
// Close; see ReadBench for the method.
func MeasureReadBandwidth(threads int, bufBytes int64, minDuration time.Duration) (Bandwidth, error) {
	rb, err := NewReadBench(threads, bufBytes)
	if err != nil {
		return Bandwidth{}, err
	}
	defer rb.Close()
	return rb.Run(minDuration), nil
}

// ReadBench measures read bandwidth repeatedly over one buffer, so that a
// benchmark can take short measurements between its own repetitions and
// compare like with like on a machine whose bandwidth drifts (a VM whose
// neighbours come and go).
//
// The buffer is split into one contiguous part per thread and each pass
// reads every part once, with SIMD loads where the CPU has them. For a
// memory (not cache) figure it must be much larger than the last-level
// cache: 1 GiB is a good size. It is allocated outside the Go heap and
// written once, so that every page is backed by its own physical memory
// (an untouched anonymous page reads the shared zero page, which stays in
// cache); it counts in the resident set — and in the peak RSS — until
// Close. A ReadBench is not safe for concurrent use.
type ReadBench struct {
	buf   []byte
	r     *readers
	m     Bandwidth // settings; Best, Median and Passes are unset
	rates []float64 // every pass so far, bytes per second
}

// NewReadBench allocates and fills the buffer and starts threads−1 reader
// goroutines (the caller's goroutine reads the first part).
func NewReadBench(threads int, bufBytes int64) (*ReadBench, error) {
	if threads < 1 || threads > maxBandwidthThread {
		return nil, fmt.Errorf("sysinfo: bandwidth: %d threads out of range [1, %d]", threads, maxBandwidthThread)
	}
	if bufBytes < minBandwidthBuffer || int64(int(bufBytes)) != bufBytes {
		return nil, fmt.Errorf("sysinfo: bandwidth: buffer of %d bytes out of range (min %d)", bufBytes, minBandwidthBuffer)
	}
	part := bufBytes / int64(threads) / readAlign * readAlign
	if part == 0 {
		return nil, fmt.Errorf("sysinfo: bandwidth: buffer of %d bytes is too small for %d threads", bufBytes, threads)
	}
	buf, err := allocBuffer(int(part) * threads)
	if err != nil {
		return nil, fmt.Errorf("sysinfo: bandwidth: %w", err)
	}
	fill(buf)
	parts := make([][]byte, threads)
	for i := range parts {
		parts[i] = buf[int64(i)*part : int64(i+1)*part]
	}
	return &ReadBench{
		buf: buf, r: newReaders(parts),
		m: Bandwidth{Bytes: part * int64(threads), Threads: threads, Loop: readLoopName()},
	}, nil
}

// Run reads the buffer in passes for at least minDuration (and at least
// three passes) and returns the statistics of these passes.
func (rb *ReadBench) Run(minDuration time.Duration) Bandwidth {
	first := len(rb.rates)
	start := time.Now()
	for len(rb.rates)-first < minPasses || time.Since(start) < minDuration {
		d := rb.r.pass()
		rb.rates = append(rb.rates, float64(rb.m.Bytes)/max(d.Seconds(), 1e-9))
	}
	return rb.stats(rb.rates[first:])
}

// Total returns the statistics of every pass of every Run so far.
func (rb *ReadBench) Total() Bandwidth { return rb.stats(rb.rates) }

func (rb *ReadBench) stats(rates []float64) Bandwidth {
	m := rb.m
	if len(rates) == 0 {
		return m
	}
	s := slices.Clone(rates)
	slices.Sort(s)
	m.Passes = len(s)
	m.Best = s[len(s)-1]
	m.Median = timeMedian(s)
	return m
}

// timeMedian returns the time-weighted median of sorted pass rates: the
// rate r such that passes slower than r and passes faster than r each took
// at most half of the total time. A pass over a fixed buffer at rate r
// takes a time proportional to 1/r.
func timeMedian(sorted []float64) float64 {
	var total float64
	for _, r := range sorted {
		total += 1 / r
	}
	var acc float64
	for _, r := range sorted {
		if acc += 1 / r; acc >= total/2 {
			return r
		}
	}
	return sorted[len(sorted)-1]
}

// Close stops the readers and returns the buffer to the system. It is
// idempotent; the ReadBench must not be used afterwards.
func (rb *ReadBench) Close() {
	if rb.buf == nil {
		return
	}
	rb.r.close()
	freeBuffer(rb.buf)
	rb.buf = nil
}

// sink keeps the read loops' sums observable so no compiler may drop them.
var sink uint64

// readers runs one read pass over parts with one goroutine per part; the
// caller's goroutine reads part 0, so threads−1 goroutines are started.
type readers struct {
	parts [][]byte
	start []chan struct{}
	wg    sync.WaitGroup
	sums  []uint64 // one per thread, 8 apart so no two share a cache line
}

func newReaders(parts [][]byte) *readers {
	r := &readers{parts: parts, sums: make([]uint64, 8*len(parts))}
	for i := 1; i < len(parts); i++ {
		ch := make(chan struct{})
		r.start = append(r.start, ch)
		go func() {
			for range ch {
				r.sums[8*i] += readSum(r.parts[i])
				r.wg.Done()
			}
		}()
	}
	return r
}

// pass reads every part once and returns the wall time it took.
func (r *readers) pass() time.Duration {
	t0 := time.Now()
	r.wg.Add(len(r.start))
	for _, ch := range r.start {
		ch <- struct{}{}
	}
	r.sums[0] += readSum(r.parts[0])
	r.wg.Wait()
	d := time.Since(t0)
	for i := range r.parts {
		sink += r.sums[8*i]
	}
	return d
}

func (r *readers) close() {
	for _, ch := range r.start {
		close(ch)
	}
}

// fill writes a pattern over the whole buffer, faulting in every page.
func fill(b []byte) {
	w := u64s(b)
	for i := range w {
		w[i] = uint64(i) * 0x9e3779b97f4a7c15
	}
}

// u64s views b (8-byte aligned, length a multiple of 8) as uint64s.
func u64s(b []byte) []uint64 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

// readSumGo sums b as uint64s; len(b) is a multiple of 64. Four
// independent accumulators keep the adds off the critical path, so the
// loop is limited by loads.
func readSumGo(b []byte) uint64 {
	w := u64s(b)
	var s0, s1, s2, s3 uint64
	for len(w) >= 8 {
		s0 += w[0] + w[4]
		s1 += w[1] + w[5]
		s2 += w[2] + w[6]
		s3 += w[3] + w[7]
		w = w[8:]
	}
	return s0 + s1 + s2 + s3
}

// pageSize is used to round buffer sizes for the system allocator.
var pageSize = os.Getpagesize()
