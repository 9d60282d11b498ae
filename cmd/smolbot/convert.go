package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/internal/units"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

func init() {
	c := &command{
		name:    "convert",
		summary: "convert a Hugging Face model directory (safetensors) to GGUF",
		usage:   "[--type TYPE] DIR OUT.gguf   (TYPE: auto, f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k)",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runConvert(c, args, stdout, stderr) }
	register(c)
}

func runConvert(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	typ := fs.String("type", "auto", "weight `TYPE`: auto (keep the checkpoint's float type), f32, f16, bf16, or a quantization with llama-quantize's tensor mixture: q8_0, q4_0, q4_k_m, q5_k_m, q6_k")
	quiet := fs.Bool("quiet", false, "no progress output")
	pos, err := parseArgs(fs, args)
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
	ot, err := convertType(*typ)
	if err != nil {
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
		len(f.Tensors), gguf.FileTypeName(f.Uint("general.file_type", 0)), units.Bytes(f.Size), time.Since(start).Round(time.Millisecond))
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

// convertType returns the output of `convert --type name`: the float types
// as llama.cpp's converter writes them, the quantized ones with the tensor
// mixture that quantize and synth use (model.Mixture, spec §4.10), so that
// converting straight to Q4_K_M gives the file llama-quantize would make
// from the F32 conversion.
func convertType(name string) (hf.OutType, error) {
	if ot, err := hf.PlainOutType(name); err == nil && (ot.Name == "auto" || ot.Type.BlockSize() == 1) {
		return ot, nil
	}
	ft, err := model.ParseFileType(name)
	if err != nil {
		return hf.OutType{}, fmt.Errorf("unknown --type %q (want auto, f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m or q6_k)", name)
	}
	return hf.OutType{Name: strings.ToLower(ft.Name), FileType: ft.ID, Type: ft.Default,
		Plan: func(names []string) func(hf.TensorChoice) quant.Type {
			mix := model.NewMixture(ft, names)
			return func(c hf.TensorChoice) quant.Type {
				t, err := mix.TensorType(c.Name, c.Dims, quant.F32)
				if err != nil {
					return quant.F16 // as the converter does for rows no block fits
				}
				return t
			}
		}}, nil
}
