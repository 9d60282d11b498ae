package gguf_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/quant"
)

// A converter or quantizer declares every tensor up front, then streams each
// one's bytes in order (here row by row); the Writer pads and places them.
// For a file, wrap an *os.File in a bufio.Writer and flush it after Close.
func ExampleNewWriter() {
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.MustValue("smollm3")},
		{Key: "smollm3.block_count", Value: gguf.MustValue(uint32(1))},
		{Key: "tokenizer.ggml.tokens", Value: gguf.MustValue([]string{"<s>", "a"})},
	}
	tensors := []gguf.TensorSpec{
		{Name: "output_norm.weight", Dims: []int64{4}, Type: quant.F32},
		{Name: "blk.0.attn_q.weight", Dims: []int64{32, 3}, Type: quant.Q8_0},
	}
	var buf bytes.Buffer
	w, err := gguf.NewWriter(&buf, kv, tensors)
	if err != nil {
		log.Fatal(err)
	}
	if err := w.WriteTensor("output_norm.weight", make([]byte, 16)); err != nil {
		log.Fatal(err)
	}
	if err := w.StartTensor("blk.0.attn_q.weight"); err != nil {
		log.Fatal(err)
	}
	row := make([]byte, 34) // one Q8_0 block per row
	for range 3 {
		if _, err := w.Write(row); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range f.Tensors {
		fmt.Println(t.Name, t.Type, t.Dims, "offset", t.Offset, "size", t.Size)
	}
	fmt.Println("file size", w.Size(), "data at", f.DataOffset)
	// Output:
	// output_norm.weight F32 [4] offset 0 size 16
	// blk.0.attn_q.weight Q8_0 [32 3] offset 32 size 102
	// file size 448 data at 288
}
