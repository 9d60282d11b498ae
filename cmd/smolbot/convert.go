package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/quant"
)

func init() {
	c := &command{
		name:    "convert",
		summary: "convert a Hugging Face model directory (safetensors) to GGUF",
		usage:   "[--type auto|f32|f16|bf16|q8_0|q4_k_m] DIR OUT.gguf",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runConvert(c, args, stdout, stderr) }
	register(c)
}

func runConvert(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	typ := fs.String("type", "auto", "weight type: auto (keep the checkpoint's float type), f32, f16, bf16, q8_0 or q4_k_m")
	quiet := fs.Bool("quiet", false, "no progress output")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("want DIR and OUT.gguf, got %d arguments", len(pos))
	}
	dir, out := pos[0], pos[1]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usageError("%s is not a directory", dir)
	}
	var ot hf.OutType
	if strings.EqualFold(*typ, "q4_k_m") {
		ot = q4KM
	} else if ot, err = hf.PlainOutType(*typ); err != nil {
		return usageError("%v", err)
	}
	opts := hf.ConvertOptions{Out: ot}
	if !*quiet && isTerminalWriter(stderr) {
		opts.Progress = func(done, total int, name string) {
			fmt.Fprintf(stderr, "\r[%d/%d] %-40s", done, total, name)
			if done == total {
				fmt.Fprintln(stderr)
			}
		}
	}
	start := time.Now()
	if err := hf.Convert(dir, out, opts); err != nil {
		return err
	}
	f, err := gguf.Open(out)
	if err != nil {
		return fmt.Errorf("the converted file does not read back: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(stdout, "wrote %s: %s, %d tensors, %s, %s in %v\n", out, f.String("general.architecture", "?"),
		len(f.Tensors), gguf.FileTypeName(f.Uint("general.file_type", 0)), sizeString(f.Size), time.Since(start).Round(time.Millisecond))
	return nil
}

// isTerminalWriter reports whether w is a terminal (a character device),
// where a redrawn progress line makes sense.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// q4KM is llama-quantize's Q4_K_M mixture (spec §4.10): Q4_K by default;
// Q6_K for the LM head (token_embd when the embeddings are tied) and for
// attn_v / ffn_down in the layers use_more_bits picks. Rows that are not a
// multiple of 256 take Q8_0 (llama.cpp uses Q5_0 for Q4_K there, which
// smolbot cannot compute with; Q8_0 is the larger, exact-er substitute).
//
// TODO(#5): use the model package's mixture table once it provides one.
var q4KM = hf.OutType{Name: "q4_k_m", FileType: 15, Choose: func(c hf.TensorChoice) quant.Type {
	t := quant.Q4_K
	var layer int
	var kind string
	if _, err := fmt.Sscanf(c.Name, "blk.%d.%s", &layer, &kind); err == nil {
		if (kind == "attn_v.weight" || kind == "ffn_down.weight") && useMoreBits(layer, c.Layers) {
			t = quant.Q6_K
		}
	} else if c.Name == "output.weight" || c.Name == "token_embd.weight" && c.Tied {
		t = quant.Q6_K
	}
	if c.Dims[0]%quant.QK_K != 0 {
		t = quant.Q8_0
	}
	return t
}}

// useMoreBits is llama.cpp's use_more_bits(i, n): the first and last eighth
// of the layers and every third one in between.
func useMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }
