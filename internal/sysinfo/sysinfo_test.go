package sysinfo

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func TestPeakRSSGrows(t *testing.T) {
	peak0, err := PeakRSS()
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	if peak0 <= 0 {
		t.Fatalf("PeakRSS = %d, want > 0", peak0)
	}
	// The peak may already lie above the current RSS, so grow from the
	// current figure where it is known.
	base := peak0
	if cur, err := CurrentRSS(); err == nil {
		// No cur ≤ peak check: the kernel's RSS counters are batched
		// per thread, so two reads may disagree by a few pages.
		if cur <= 0 {
			t.Fatalf("CurrentRSS = %d", cur)
		}
		base = cur
	}
	const size = 96 << 20
	b := make([]byte, size)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	peak1, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(b)
	if peak1 < base+size*3/4 {
		t.Errorf("after touching %d MiB: PeakRSS %d MiB, was %d MiB (RSS %d MiB)", size>>20, peak1>>20, peak0>>20, base>>20)
	}
}

func TestMaxRSS(t *testing.T) {
	v, err := maxRSS()
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil || v <= 0 {
		t.Fatalf("maxRSS = %d, %v", v, err)
	}
}

func TestParseStatus(t *testing.T) {
	status := []byte("Name:\tsmolbot\nVmPeak:\t  123456 kB\nVmHWM:\t    2048 kB\nVmRSS:\t1 kB\nBad:\tx kB\nVmSwap:\t5 MB\n")
	for _, c := range []struct {
		field string
		want  int64
		ok    bool
	}{
		{"VmHWM", 2048 << 10, true},
		{"VmRSS", 1 << 10, true},
		{"VmPeak", 123456 << 10, true},
		{"Bad", 0, false},
		{"VmSwap", 0, false},
		{"VmData", 0, false},
	} {
		got, err := parseStatus(status, c.field)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseStatus(%s) = %d, %v; want %d, ok %v", c.field, got, err, c.want, c.ok)
		}
	}
}

func TestReadSumMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, readAlign, 2 * readAlign, 17 * readAlign, len(b)} {
		if got, want := readSum(b[:n]), readSumGo(b[:n]); got != want {
			t.Errorf("readSum(%d bytes) = %#x, readSumGo = %#x", n, got, want)
		}
	}
	// Every byte must count: change one at a time.
	base := readSum(b[:4*readAlign])
	for _, i := range []int{0, 31, 32, 255, 256, 1023} {
		b[i]++
		if readSum(b[:4*readAlign]) == base {
			t.Errorf("changing byte %d did not change the sum", i)
		}
		b[i]--
	}
}

func TestMeasureReadBandwidth(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		m, err := MeasureReadBandwidth(threads, 1<<20, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !(m.Best > 0) || m.Median > m.Best || m.Passes < minPasses || m.Threads != threads ||
			m.Bytes <= 0 || m.Bytes > 1<<20 || m.Bytes%(readAlign*int64(threads)) != 0 || m.Loop == "" {
			t.Errorf("threads=%d: %+v", threads, m)
		}
	}
	bw, err := ReadBandwidth(2, 256<<10, 0)
	if err != nil || !(bw > 0) {
		t.Errorf("ReadBandwidth = %v, %v", bw, err)
	}
}

func TestReadBenchRuns(t *testing.T) {
	rb, err := NewReadBench(2, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	if m := rb.Total(); m.Passes != 0 || m.Best != 0 || m.Threads != 2 {
		t.Errorf("before any run: %+v", m)
	}
	a := rb.Run(0)
	b := rb.Run(time.Millisecond)
	tot := rb.Total()
	if a.Passes < minPasses || b.Passes < minPasses || tot.Passes != a.Passes+b.Passes {
		t.Errorf("passes %d + %d, total %d", a.Passes, b.Passes, tot.Passes)
	}
	if tot.Best != max(a.Best, b.Best) || !(tot.Median > 0) || tot.Median > tot.Best {
		t.Errorf("runs %+v, %+v; total %+v", a, b, tot)
	}
	rb.Close()
	rb.Close()
}

func TestMeasureReadBandwidthBadArgs(t *testing.T) {
	for _, c := range []struct {
		threads int
		bytes   int64
	}{{0, 1 << 20}, {-1, 1 << 20}, {1 << 20, 1 << 20}, {1, 0}, {1, -5}, {1, 100}, {1000, 4096}} {
		if _, err := MeasureReadBandwidth(c.threads, c.bytes, 0); err == nil {
			t.Errorf("MeasureReadBandwidth(%d, %d) succeeded", c.threads, c.bytes)
		}
	}
}

// BenchmarkReadSum compares the read loops on one thread over a buffer
// far larger than the last-level cache, in GB/s:
//
//	go test -run '^$' -bench ReadSum ./internal/sysinfo/
func BenchmarkReadSum(b *testing.B) {
	buf, err := allocBuffer(512 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer freeBuffer(buf)
	fill(buf)
	for _, c := range []struct {
		name string
		fn   func([]byte) uint64
	}{{"best=" + readLoopName(), readSum}, {"go", readSumGo}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				sink += c.fn(buf)
			}
		})
	}
}

// BenchmarkReadBandwidth is MeasureReadBandwidth with 1 and 2 threads over
// 1 GiB, reported as its best pass.
func BenchmarkReadBandwidth(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run("threads="+string(rune('0'+threads)), func(b *testing.B) {
			var best float64
			for b.Loop() {
				m, err := MeasureReadBandwidth(threads, 1<<30, 0)
				if err != nil {
					b.Fatal(err)
				}
				best = max(best, m.Best)
			}
			b.ReportMetric(best/1e9, "GB/s")
		})
	}
}

func TestTimeMedian(t *testing.T) {
	for _, c := range []struct {
		rates []float64 // sorted
		want  float64
	}{
		{[]float64{5}, 5},
		{[]float64{10, 10, 10}, 10},
		// Four fast passes took 0.04 of the time, the slow one 0.1: memory
		// was slow for most of the measurement, though most passes were
		// fast.
		{[]float64{10, 100, 100, 100, 100}, 10},
		// Equal time at each rate: 2 passes at 20 (0.1), 4 at 40 (0.1);
		// the slower rate reaches half the time first.
		{[]float64{20, 20, 40, 40, 40, 40}, 20},
		// A burst of 10 s at 50 against 5 s at 40 and 5 s at 70.
		{[]float64{40, 40, 50, 50, 50, 50, 50, 70, 70, 70, 70, 70, 70, 70}, 50},
	} {
		if got := timeMedian(c.rates); got != c.want {
			t.Errorf("timeMedian(%v) = %v, want %v", c.rates, got, c.want)
		}
	}
}
