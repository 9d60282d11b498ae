package main

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

func init() {
	c := &command{
		name:    "synth",
		summary: "write a deterministic random-weight model (tests and benchmarks)",
		usage:   "--arch smollm3|llama --preset tiny|3b --type TYPE -o FILE [--seed N] [--vocab FROM.gguf] [-t THREADS]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runSynth(c, args, stdout, stderr) }
	register(c)
}

// synthShape is a model shape preset.
type synthShape struct {
	layers, embd, heads, kvHeads, ffn, ctx int
	ropeBase                               float32
}

// synthPresets: "3b" is SmolLM3-3B (spec §2); "tiny" matches the fixtures'
// tiny models.
var synthPresets = map[string]map[string]synthShape{
	"smollm3": {
		"tiny": {layers: 8, embd: 256, heads: 4, kvHeads: 1, ffn: 768, ctx: 4096, ropeBase: 5e6},
		"3b":   {layers: 36, embd: 2048, heads: 16, kvHeads: 4, ffn: 11008, ctx: 65536, ropeBase: 5e6},
	},
	"llama": {
		"tiny": {layers: 4, embd: 256, heads: 4, kvHeads: 2, ffn: 768, ctx: 4096, ropeBase: 1e4},
		"3b":   {layers: 36, embd: 2048, heads: 16, kvHeads: 4, ffn: 11008, ctx: 65536, ropeBase: 5e5},
	},
}

// synthSigma is the standard deviation of the random weights: small enough
// that activations stay O(1) through the layers, like a trained model's.
const synthSigma = 0.02

// poolThreshold is the tensor size above which quantized weights are drawn
// from a pool of pre-quantized random blocks instead of being quantized one
// by one: the statistics are the same and a 3B model takes seconds.
const poolThreshold = 1 << 22

func runSynth(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	arch := fs.String("arch", "smollm3", "architecture: smollm3 or llama")
	preset := fs.String("preset", "tiny", "shape: tiny or 3b")
	typ := fs.String("type", "q4_k_m", "file type: f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k")
	out := fs.String("o", "", "output file (required)")
	seed := fs.Uint64("seed", 1, "random seed")
	vocab := fs.String("vocab", "", "take the tokenizer (and metadata) from this GGUF file")
	threads := fs.Int("t", 0, "worker threads (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	if *out == "" {
		return usageError("-o FILE is required")
	}
	shapes, ok := synthPresets[*arch]
	if !ok {
		return usageError("unknown --arch %q (want smollm3 or llama)", *arch)
	}
	shape, ok := shapes[*preset]
	if !ok {
		return usageError("unknown --preset %q (want tiny or 3b)", *preset)
	}
	ft, err := model.ParseFileType(*typ)
	if err != nil {
		return usageError("%v", err)
	}
	start := time.Now()
	if err := synthesize(*out, *arch, *preset, shape, ft, *seed, *vocab, *threads, newProgress(stderr, "synth")); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s %s %s, %d bytes in %v\n", *out, *arch, *preset, ft.Name, st.Size(), time.Since(start).Round(time.Millisecond))
	return nil
}

// synthesize writes the model file.
func synthesize(path, arch, preset string, s synthShape, ft model.FileType, seed uint64, vocabPath string, threads int, progress func(done, total int64)) error {
	kv, nVocab, err := synthMetadata(arch, preset, s, ft, vocabPath)
	if err != nil {
		return err
	}
	hd := s.embd / s.heads
	// Tensor order of the fixtures (and of llama.cpp's test models):
	// output_norm, token_embd, then each block's tensors by name.
	var specs []gguf.TensorSpec
	add := func(name string, dims ...int64) { specs = append(specs, gguf.TensorSpec{Name: name, Dims: dims}) }
	E, F := int64(s.embd), int64(s.ffn)
	add("output_norm.weight", E)
	add("token_embd.weight", E, int64(nVocab))
	for il := range s.layers {
		add(model.Blk(il, "attn_k"), E, int64(s.kvHeads*hd))
		add(model.Blk(il, "attn_norm"), E)
		add(model.Blk(il, "attn_output"), int64(s.heads*hd), E)
		add(model.Blk(il, "attn_q"), E, int64(s.heads*hd))
		add(model.Blk(il, "attn_v"), E, int64(s.kvHeads*hd))
		add(model.Blk(il, "ffn_down"), F, E)
		add(model.Blk(il, "ffn_gate"), E, F)
		add(model.Blk(il, "ffn_norm"), E)
		add(model.Blk(il, "ffn_up"), E, F)
	}
	names := make([]string, len(specs))
	for i := range specs {
		names[i] = specs[i].Name
	}
	mix := model.NewMixture(ft, names)
	for i := range specs {
		if specs[i].Type, err = mix.TensorType(specs[i].Name, specs[i].Dims, quant.F32); err != nil {
			return err
		}
	}
	pools := map[quant.Type][]byte{}
	for _, sp := range specs {
		if sp.Type.BlockSize() > 1 && sp.Dims[0]*sp.Dims[1] > poolThreshold && pools[sp.Type] == nil {
			if pools[sp.Type], err = blockPool(sp.Type, seed); err != nil {
				return err
			}
		}
	}
	produce := func(i, r0, r1 int, dst []byte) error {
		sp := specs[i]
		n := int(sp.Dims[0])
		rng := rand.New(rand.NewPCG(seed, chunkStream(sp.Name, r0)))
		if len(sp.Dims) == 1 {
			// Norm gains: 1, so the residual stream is normalized as is.
			for j := range n {
				binary.LittleEndian.PutUint32(dst[4*j:], math.Float32bits(1))
			}
			return nil
		}
		if pool := pools[sp.Type]; pool != nil {
			fillFromPool(dst, pool, sp.Type, rng)
			return nil
		}
		rb, _ := sp.Type.RowBytes(int64(n))
		row := make([]float32, n)
		for r := 0; r < r1-r0; r++ {
			for j := range row {
				row[j] = float32(rng.NormFloat64() * synthSigma)
			}
			if err := quant.QuantizeRow(sp.Type, row, dst[int64(r)*rb:int64(r+1)*rb]); err != nil {
				return err
			}
		}
		return nil
	}
	return writeGGUF(path, kv, specs, produce, threads, progress)
}

// chunkStream derives the random stream of one chunk from the tensor name
// and its first row, so that the output does not depend on the thread
// count or chunking order.
func chunkStream(name string, r0 int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64() ^ uint64(r0)*0x9e3779b97f4a7c15
}

// poolBlocks is the number of distinct blocks in a pool.
const poolBlocks = 1 << 14

// blockPool quantizes poolBlocks blocks of random N(0, σ) values.
func blockPool(t quant.Type, seed uint64) ([]byte, error) {
	be := t.BlockSize()
	rng := rand.New(rand.NewPCG(seed, uint64(t)+0x51ed))
	x := make([]float32, poolBlocks*be)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * synthSigma)
	}
	pool := make([]byte, poolBlocks*t.TypeSize())
	if err := quant.QuantizeRow(t, x, pool); err != nil {
		return nil, err
	}
	return pool, nil
}

// fillFromPool fills dst with blocks drawn at random from pool.
func fillFromPool(dst, pool []byte, t quant.Type, rng *rand.Rand) {
	bs := t.TypeSize()
	for off := 0; off+bs <= len(dst); off += bs {
		k := rng.IntN(poolBlocks)
		copy(dst[off:off+bs], pool[k*bs:(k+1)*bs])
	}
}

// synthMetadata builds the metadata: the tokenizer (and, when the vocab
// file is a model of the same architecture, all its other keys, so the
// file matches what llama-quantize would write from it) and the shape's
// hyperparameters. It returns the vocabulary size.
func synthMetadata(arch, preset string, s synthShape, ft model.FileType, vocabPath string) ([]gguf.KV, int, error) {
	hd := s.embd / s.heads
	hparams := []struct {
		key string
		val any
	}{
		{"context_length", uint32(s.ctx)},
		{"embedding_length", uint32(s.embd)},
		{"block_count", uint32(s.layers)},
		{"feed_forward_length", uint32(s.ffn)},
		{"attention.head_count", uint32(s.heads)},
		{"attention.head_count_kv", uint32(s.kvHeads)},
		{"rope.freq_base", s.ropeBase},
		{"attention.layer_norm_rms_epsilon", float32(1e-6)},
		{"rope.dimension_count", uint32(hd)},
	}
	var kv []gguf.KV
	set := func(key string, v any) {
		val := gguf.MustValue(v)
		for i := range kv {
			if kv[i].Key == key {
				kv[i].Value = val
				return
			}
		}
		kv = append(kv, gguf.KV{Key: key, Value: val})
	}
	var tokenKV []gguf.KV
	nVocab := 0
	if vocabPath != "" {
		vf, err := gguf.Open(vocabPath)
		if err != nil {
			return nil, 0, err
		}
		defer vf.Close()
		toks, ok := vf.Strings("tokenizer.ggml.tokens")
		if !ok || len(toks) == 0 {
			return nil, 0, fmt.Errorf("%s has no tokenizer.ggml.tokens", vocabPath)
		}
		nVocab = len(toks)
		sameArch := vf.String("general.architecture", "") == arch
		for _, p := range vf.KV {
			switch {
			case strings.HasPrefix(p.Key, "tokenizer."):
				tokenKV = append(tokenKV, p)
			case sameArch:
				kv = append(kv, p)
			}
		}
	} else {
		tokenKV, nVocab = builtinVocab(preset)
	}
	set("general.architecture", arch)
	if vocabPath == "" {
		set("general.name", "smolbot-synth-"+arch+"-"+preset)
	}
	for _, h := range hparams {
		set(arch+"."+h.key, h.val)
	}
	set(arch+".vocab_size", uint32(nVocab))
	// Keys not yet present go before the tokenizer, as the converter
	// orders them; an existing general.file_type is moved to the end.
	for _, p := range tokenKV {
		found := false
		for i := range kv {
			if kv[i].Key == p.Key {
				found = true
				break
			}
		}
		if !found {
			kv = append(kv, p)
		}
	}
	return quantizedKV(kv, ft), nVocab, nil
}

// builtinVocab is a byte-level BPE vocabulary for files made without
// --vocab: the 256 byte tokens (GPT-2 byte-to-unicode form), no merges, and
// SmolLM3's control tokens; the 3b preset pads it with reserved control
// tokens to SmolLM3's 128256 entries.
func builtinVocab(preset string) ([]gguf.KV, int) {
	var tokens []string
	var types []int32
	for b := range 256 {
		tokens = append(tokens, string(byteRune(byte(b))))
		types = append(types, 1)
	}
	specials := []string{"<|begin_of_text|>", "<|end_of_text|>", "<think>", "</think>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<|finetune_right_pad_id|>"}
	for _, s := range specials {
		tokens = append(tokens, s)
		types = append(types, 3)
	}
	if preset == "3b" {
		for i := 0; len(tokens) < 128256; i++ {
			tokens = append(tokens, fmt.Sprintf("<|reserved_special_token_%d|>", i))
			types = append(types, 3)
		}
	}
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: gguf.MustValue("gpt2")},
		{Key: "tokenizer.ggml.pre", Value: gguf.MustValue("smaug-bpe")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.MustValue(tokens)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.MustValue(types)},
		{Key: "tokenizer.ggml.merges", Value: gguf.MustValue([]string{})},
		{Key: "tokenizer.ggml.bos_token_id", Value: gguf.MustValue(uint32(256))},
		{Key: "tokenizer.ggml.eos_token_id", Value: gguf.MustValue(uint32(261))},
		{Key: "tokenizer.ggml.padding_token_id", Value: gguf.MustValue(uint32(264))},
		{Key: "tokenizer.ggml.add_bos_token", Value: gguf.MustValue(false)},
	}, len(tokens)
}

// byteRune is GPT-2's byte-to-unicode map (spec §5.3): printable bytes map
// to themselves, the other 68 to U+0100 onwards in byte order.
func byteRune(b byte) rune {
	if (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae {
		return rune(b)
	}
	n := 0
	for c := 0; c < int(b); c++ {
		cb := byte(c)
		if !((cb >= 0x21 && cb <= 0x7e) || (cb >= 0xa1 && cb <= 0xac) || cb >= 0xae) {
			n++
		}
	}
	return rune(0x100 + n)
}
