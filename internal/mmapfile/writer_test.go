package mmapfile

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// recorder records the offset and size of every write it gets.
type recorder struct {
	bytes.Buffer
	writes [][2]int64
	failAt int64 // fail the write that would go past this many bytes (0: never)
	short  bool  // with failAt: write part and report no error
}

func (r *recorder) Write(p []byte) (int, error) {
	off := int64(r.Len())
	if r.failAt > 0 && off+int64(len(p)) > r.failAt {
		n := int(r.failAt - off)
		r.Buffer.Write(p[:n])
		if r.short {
			return n, nil
		}
		return n, errors.New("disk full")
	}
	r.writes = append(r.writes, [2]int64{off, int64(len(p))})
	return r.Buffer.Write(p)
}

func TestWriterChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, start := range []int64{0, 1, WriteChunk - 1, 3*WriteChunk + 12345} {
		want := make([]byte, 3*WriteChunk+777)
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		rec := &recorder{}
		rec.Write(make([]byte, start)) // what the file already holds
		rec.writes = nil
		w := NewWriter(rec, start)
		for rest := want; len(rest) > 0; {
			// A mix of tiny, odd and larger-than-a-chunk writes.
			n := min(len(rest), []int{1, 7, 4093, 1 << 20, WriteChunk + 5}[rng.IntN(5)])
			if got, err := w.Write(rest[:n]); got != n || err != nil {
				t.Fatalf("Write(%d) = %d, %v", n, got, err)
			}
			rest = rest[n:]
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Bytes()[start:], want) {
			t.Fatalf("start %d: the file differs from what was written", start)
		}
		end := start + int64(len(want))
		for i, wr := range rec.writes {
			off, n := wr[0], wr[1]
			last := i == len(rec.writes)-1
			// Every write but the first starts on a chunk boundary, and every
			// write but the last ends on one.
			if i > 0 && off%WriteChunk != 0 {
				t.Errorf("start %d: write %d at offset %d, not chunk-aligned", start, i, off)
			}
			if !last && (off+n)%WriteChunk != 0 {
				t.Errorf("start %d: write %d ends at %d, not chunk-aligned", start, i, off+n)
			}
			if last && off+n != end {
				t.Errorf("start %d: last write ends at %d, want %d", start, off+n, end)
			}
		}
	}
}

func TestWriterErrors(t *testing.T) {
	for _, short := range []bool{false, true} {
		rec := &recorder{failAt: WriteChunk + 10, short: short}
		w := NewWriter(rec, 0)
		data := make([]byte, 3*WriteChunk)
		n, err := w.Write(data)
		if err == nil {
			t.Fatalf("short=%v: Write past a failing disk returned no error", short)
		}
		if n > 2*WriteChunk {
			t.Errorf("short=%v: Write reported %d bytes written past the failure", short, n)
		}
		if _, err2 := w.Write(data[:1]); err2 == nil {
			t.Errorf("short=%v: the error is not sticky", short)
		}
		if err3 := w.Flush(); err3 == nil {
			t.Errorf("short=%v: Flush after an error returned nil", short)
		}
	}
}
