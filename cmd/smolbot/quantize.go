package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/mmapfile"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

func init() {
	c := &command{
		name:    "quantize",
		summary: "convert a GGUF model to another type with llama-quantize's tensor mixture",
		usage:   "[-t THREADS] IN.gguf OUT.gguf TYPE   (TYPE: q8_0, q4_0, q4_k_m, q5_k_m, q6_k, f16, bf16, f32)",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runQuantize(c, args, stdout, stderr) }
	register(c)
}

func runQuantize(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	threads := fs.Int("t", 0, "worker threads (0: all cores)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return usageError("want IN.gguf OUT.gguf TYPE, got %d arguments", len(pos))
	}
	in, out, typ := pos[0], pos[1], pos[2]
	ft, err := model.ParseFileType(typ)
	if err != nil {
		return usageError("%v", err)
	}
	start := time.Now()
	if err := quantizeFile(in, out, ft, *threads, newProgress(stderr, "quantize")); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s, %d bytes in %v\n", out, ft.Name, st.Size(), time.Since(start).Round(time.Millisecond))
	return nil
}

// quantizeFile converts every tensor of in to the type the mixture gives
// and writes out, copying the metadata with general.quantization_version
// and general.file_type set as llama-quantize does.
func quantizeFile(in, out string, ft model.FileType, threads int, progress func(done, total int64)) error {
	src, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	names := make([]string, len(src.Tensors))
	for i, ti := range src.Tensors {
		names[i] = ti.Name
	}
	mix := model.NewMixture(ft, names)
	specs := make([]gguf.TensorSpec, len(src.Tensors))
	for i, ti := range src.Tensors {
		t, err := mix.TensorType(ti.Name, ti.Dims, ti.Type)
		if err != nil {
			return err
		}
		if t != ti.Type && !(ti.Type.Supported() && t.Supported()) {
			return fmt.Errorf("tensor %q: cannot convert %v to %v", ti.Name, ti.Type, t)
		}
		specs[i] = gguf.TensorSpec{Name: ti.Name, Dims: ti.Dims, Type: t}
	}
	kv := quantizedKV(src.KV, ft)
	produce := func(i, r0, r1 int, dst []byte) error {
		ti := &src.Tensors[i]
		data, err := src.TensorData(ti)
		if err != nil {
			return err
		}
		srb, err := ti.Type.RowBytes(ti.Dim(0))
		if err != nil {
			return err
		}
		raw := data[int64(r0)*srb : int64(r1)*srb]
		if specs[i].Type == ti.Type {
			copy(dst, raw)
			return nil
		}
		return convertRows(raw, ti.Type, dst, specs[i].Type, int(ti.Dim(0)))
	}
	return writeGGUF(out, kv, specs, produce, threads, progress)
}

// quantizedKV copies metadata and sets general.quantization_version and
// general.file_type, moving them to the end like llama.cpp's gguf_set_val.
func quantizedKV(src []gguf.KV, ft model.FileType) []gguf.KV {
	kv := make([]gguf.KV, 0, len(src)+2)
	for _, p := range src {
		if p.Key != "general.file_type" && p.Key != "general.quantization_version" {
			kv = append(kv, p)
		}
	}
	return append(kv,
		gguf.KV{Key: "general.quantization_version", Value: gguf.MustValue(uint32(2))},
		gguf.KV{Key: "general.file_type", Value: gguf.MustValue(ft.ID)})
}

// convertRows converts rows of n elements from type st to type dt through
// float32, with llama.cpp's reference quantizers.
func convertRows(src []byte, st quant.Type, dst []byte, dt quant.Type, n int) error {
	srb, err := st.RowBytes(int64(n))
	if err != nil {
		return err
	}
	drb, err := dt.RowBytes(int64(n))
	if err != nil {
		return err
	}
	row := make([]float32, n)
	for r := 0; int64(r)*srb < int64(len(src)); r++ {
		if err := quant.DequantizeRow(st, src[int64(r)*srb:int64(r+1)*srb], row); err != nil {
			return err
		}
		if err := quant.QuantizeRow(dt, row, dst[int64(r)*drb:int64(r+1)*drb]); err != nil {
			return err
		}
	}
	return nil
}

// chunkBytes is the target output size of one pipeline work item.
const chunkBytes = 4 << 20

// writeGGUF writes a GGUF file whose tensor data comes from produce, which
// fills dst with rows [r0, r1) of tensor i (in the type of specs[i]).
// Chunks are produced in parallel on threads goroutines and written in
// order; the output is independent of the thread count. The file is
// written to a temporary name and renamed into place on success.
func writeGGUF(path string, kv []gguf.KV, specs []gguf.TensorSpec, produce func(i, r0, r1 int, dst []byte) error, threads int, progress func(done, total int64)) (err error) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := mmapfile.NewWriter(f, 0) // huge-page friendly page cache
	w, err := gguf.NewWriter(bw, kv, specs)
	if err != nil {
		return err
	}

	type job struct {
		tensor, r0, r1 int
		buf            []byte
		err            error
		done           chan struct{}
	}
	var jobs []*job
	var total int64
	for i, s := range specs {
		rb, err := s.Type.RowBytes(s.Dims[0])
		if err != nil {
			return fmt.Errorf("tensor %q: %w", s.Name, err)
		}
		rows := int64(1)
		for _, d := range s.Dims[1:] {
			rows *= d
		}
		per := max(1, int64(chunkBytes)/max(rb, 1))
		for r := int64(0); r < rows; r += per {
			jobs = append(jobs, &job{tensor: i, r0: int(r), r1: int(min(r+per, rows)), done: make(chan struct{})})
		}
		total += rows * rb
	}
	work := make(chan *job)
	slots := make(chan struct{}, 2*threads) // bounds the chunks in memory
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				s := specs[j.tensor]
				rb, _ := s.Type.RowBytes(s.Dims[0])
				j.buf = make([]byte, int64(j.r1-j.r0)*rb)
				j.err = produce(j.tensor, j.r0, j.r1, j.buf)
				close(j.done)
			}
		}()
	}
	go func() {
		defer close(work)
		for _, j := range jobs {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case work <- j:
			case <-stop:
				return
			}
		}
	}()
	var done int64
	werr := func() error {
		for _, j := range jobs {
			<-j.done
			<-slots
			if j.err != nil {
				return fmt.Errorf("tensor %q: %w", specs[j.tensor].Name, j.err)
			}
			if j.r0 == 0 {
				if err := w.StartTensor(specs[j.tensor].Name); err != nil {
					return err
				}
			}
			if _, err := w.Write(j.buf); err != nil {
				return err
			}
			done += int64(len(j.buf))
			j.buf = nil
			if progress != nil {
				progress(done, total)
			}
		}
		return nil
	}()
	close(stop)
	wg.Wait()
	if werr != nil {
		return werr
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// newProgress returns a progress callback that redraws a bar on w when w
// is a terminal, and does nothing otherwise.
func newProgress(w io.Writer, label string) func(done, total int64) {
	if !isTTY(w) {
		return nil
	}
	start := time.Now()
	var last time.Time
	return func(done, total int64) {
		now := time.Now()
		if done < total && now.Sub(last) < 100*time.Millisecond {
			return
		}
		last = now
		frac := float64(done) / float64(max(total, 1))
		const width = 30
		n := int(frac * width)
		rate := float64(done) / max(now.Sub(start).Seconds(), 1e-9) / (1 << 20)
		fmt.Fprintf(w, "\r%s [%s%s] %5.1f%% %7.1f MiB/s", label, strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac, rate)
		if done >= total {
			fmt.Fprintln(w)
		}
	}
}

// isTTY reports whether w is a terminal.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
