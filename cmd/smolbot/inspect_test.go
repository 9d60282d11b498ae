package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/quant"
)

func inspectCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(append([]string{"inspect"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func TestInspectTinySmolLM3(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	out, errs, code := inspectCmd(t, path)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{
		`(?m)^  arch +smollm3$`,
		`(?m)^  layers +8$`,
		`(?m)^  embedding length +256$`,
		`(?m)^  heads +4, KV heads 1 \(GQA 4\)$`,
		`(?m)^  head dim +64 \(key\), 64 \(value\)$`,
		`(?m)^  feed-forward length +768$`,
		`(?m)^  rope +base 5e\+06, 64 dimensions$`,
		`(?m)^  NoPE layers +3, 7 `,
		`(?m)^  RMS norm eps +1e-06$`,
		`(?m)^  tied embeddings +true$`,
		`(?m)^  vocab +306 tokens \(model gpt2, `,
		`(?m)^  BOS +\d+ "<\|begin_of_text\|>"$`,
		`(?m)^  EOS +\d+ "<\|im_end\|>"$`,
		`(?m)^file type +Q4_K_M$`,
		`(?m)^tensors: 74 `,
		`(?m)^  tokenizer\.ggml\.tokens +\[string × 306\] +\[.*, …\]$`,
		`(?m)^  attn_v\.weight +Q6_K: 0, 3, 6, 7; Q4_K: 1, 2, 4, 5$`,
		`(?m)^  attn_q\.weight +Q4_K \(all 8 layers\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s", want)
		}
	}
	if strings.Contains(out, "blk.0.attn_q.weight") {
		t.Error("74 tensors listed without --tensors")
	}
	if t.Failed() {
		t.Log(out)
	}
}

// inspectJSON is the part of the --json output the tests read.
type inspectJSON struct {
	File         string `json:"file"`
	Size         int64  `json:"size"`
	Version      int    `json:"version"`
	Architecture struct {
		Arch               string  `json:"arch"`
		Layers             int     `json:"layers"`
		HeadCount          int     `json:"head_count"`
		HeadCountKV        int     `json:"head_count_kv"`
		KeyLength          int     `json:"key_length"`
		RopeFreqBase       float64 `json:"rope_freq_base"`
		RopeDimensionCount int     `json:"rope_dimension_count"`
		NoPELayers         []int   `json:"nope_layers"`
		VocabSize          int     `json:"vocab_size"`
		FileType           string  `json:"file_type"`
		TiedEmbeddings     bool    `json:"tied_embeddings"`
		Parameters         int64   `json:"parameters"`
		BOS                *struct {
			ID   int    `json:"id"`
			Text string `json:"text"`
		} `json:"bos"`
		ChatTemplate bool `json:"chat_template"`
	} `json:"architecture"`
	Metadata map[string]json.RawMessage `json:"metadata"`
	Tensors  []struct {
		Name   string  `json:"name"`
		Type   string  `json:"type"`
		Shape  []int64 `json:"shape"`
		Offset uint64  `json:"offset"`
		Bytes  int64   `json:"bytes"`
	} `json:"tensors"`
	Totals struct {
		Tensors     int   `json:"tensors"`
		TensorBytes int64 `json:"tensor_bytes"`
		Parameters  int64 `json:"parameters"`
		ByType      []struct {
			Type    string  `json:"type"`
			Count   int     `json:"count"`
			Bytes   int64   `json:"bytes"`
			Percent float64 `json:"percent"`
		} `json:"by_type"`
	} `json:"totals"`
	Mixture []struct {
		Tensor string           `json:"tensor"`
		Layers map[string][]int `json:"layers"`
	} `json:"mixture"`
}

type inspectArrayJSON struct {
	Type  string            `json:"type"`
	Len   int               `json:"len"`
	First []json.RawMessage `json:"first"`
}

func decodeInspect(t *testing.T, out string) inspectJSON {
	t.Helper()
	var r inspectJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	return r
}

// inspectMoreBits is llama.cpp's rule for the layers whose attn_v and ffn_down
// get Q6_K in a Q4_K_M file (spec §4.10).
func inspectMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

func TestInspectJSON(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	out, errs, code := inspectCmd(t, path, "--json") // flags may follow FILE
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	r := decodeInspect(t, out)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Architecture
	if r.File != path || r.Size != st.Size() || r.Version != 3 {
		t.Errorf("file %q size %d version %d", r.File, r.Size, r.Version)
	}
	if a.Arch != "smollm3" || a.Layers != 8 || a.HeadCount != 4 || a.HeadCountKV != 1 || a.KeyLength != 64 || a.RopeDimensionCount != 64 {
		t.Errorf("architecture %+v", a)
	}
	if a.RopeFreqBase != 5e6 || !slices.Equal(a.NoPELayers, []int{3, 7}) || a.VocabSize != 306 || a.FileType != "Q4_K_M" || !a.TiedEmbeddings {
		t.Errorf("architecture %+v", a)
	}
	if a.BOS == nil || a.BOS.Text != "<|begin_of_text|>" {
		t.Errorf("bos %+v", a.BOS)
	}

	var tokens inspectArrayJSON
	if err := json.Unmarshal(r.Metadata["tokenizer.ggml.tokens"], &tokens); err != nil || tokens.Type != "string" || tokens.Len != 306 || len(tokens.First) != 8 {
		t.Errorf("tokens %+v (%v)", tokens, err)
	}
	if string(r.Metadata["smollm3.block_count"]) != "8" || string(r.Metadata["general.architecture"]) != `"smollm3"` {
		t.Errorf("scalars: block_count %s, architecture %s", r.Metadata["smollm3.block_count"], r.Metadata["general.architecture"])
	}

	// Tensors and totals agree with each other and with the reader.
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(r.Tensors) != 74 || r.Totals.Tensors != 74 {
		t.Fatalf("%d tensors listed, totals say %d", len(r.Tensors), r.Totals.Tensors)
	}
	var fileBytes, listed, byType, params int64
	var percent float64
	count := 0
	for i, ti := range f.Tensors {
		fileBytes += ti.Size
		params += ti.Elements()
		row := r.Tensors[i]
		if row.Name != ti.Name || row.Type != ti.Type.String() || row.Offset != ti.Offset || row.Bytes != ti.Size || !slices.Equal(row.Shape, ti.Dims) {
			t.Errorf("tensor %d: %+v, want %+v", i, row, ti)
		}
		listed += row.Bytes
	}
	for _, s := range r.Totals.ByType {
		byType += s.Bytes
		count += s.Count
		percent += s.Percent
	}
	if listed != fileBytes || byType != fileBytes || r.Totals.TensorBytes != fileBytes || count != 74 || math.Abs(percent-100) > 1e-9 {
		t.Errorf("tensor bytes: file %d, listed %d, by type %d, total %d; count %d; percent %v", fileBytes, listed, byType, r.Totals.TensorBytes, count, percent)
	}
	if fileBytes > r.Size || r.Totals.Parameters != params || a.Parameters != params {
		t.Errorf("parameters %d / %d, want %d", r.Totals.Parameters, a.Parameters, params)
	}

	// The per-layer mixture follows llama.cpp's Q4_K_M rule.
	var q6 []int
	for i := range 8 {
		if inspectMoreBits(i, 8) {
			q6 = append(q6, i)
		}
	}
	found := 0
	for _, m := range r.Mixture {
		if m.Tensor == "attn_v.weight" || m.Tensor == "ffn_down.weight" {
			found++
			if !slices.Equal(m.Layers["Q6_K"], q6) || len(m.Layers["Q4_K"]) != 8-len(q6) {
				t.Errorf("%s: %v, want Q6_K in %v", m.Tensor, m.Layers, q6)
			}
		}
	}
	if found != 2 || len(r.Mixture) != 9 {
		t.Errorf("mixture has %d kinds: %+v", len(r.Mixture), r.Mixture)
	}
}

func TestInspectTensorsAndAll(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	out, _, code := inspectCmd(t, "--tensors", path)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		`(?m)^  blk\.7\.ffn_down\.weight +Q6_K +\[768, 256\] +\d+$`,
		`(?m)^  token_embd\.weight +Q6_K +\[256, 306\] +\d+$`,
		`(?m)^  output_norm\.weight +F32 +\[256\] +1024$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("--tensors output lacks %s", want)
		}
	}

	out, _, code = inspectCmd(t, "--all", path)
	if code != 0 || !strings.Contains(out, "blk.0.attn_q.weight") {
		t.Fatalf("--all: exit %d, no tensor list", code)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "tokenizer.ggml.tokens") && strings.Contains(line, "…") {
			t.Errorf("--all shortened the tokens: %.200s", line)
		}
	}

	out, _, code = inspectCmd(t, "--json", "--all", path)
	if code != 0 {
		t.Fatalf("--json --all: exit %d", code)
	}
	var tokens inspectArrayJSON
	if err := json.Unmarshal(decodeInspect(t, out).Metadata["tokenizer.ggml.tokens"], &tokens); err != nil || len(tokens.First) != 306 {
		t.Errorf("--json --all: %d tokens (%v)", len(tokens.First), err)
	}
}

func TestInspectOtherFixtures(t *testing.T) {
	// A small model lists its tensors by default; llama has no NoPE layers.
	out, _, code := inspectCmd(t, testutil.Fixture(t, "stories260K", "model.gguf"))
	if code != 0 || !strings.Contains(out, "blk.4.ffn_up.weight") || !regexp.MustCompile(`(?m)^  NoPE layers +none$`).MatchString(out) {
		t.Errorf("stories260K: exit %d\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^  rope +base 10000 \(key absent`).MatchString(out) {
		t.Error("stories260K: absent rope base not flagged")
	}
	// A vocabulary-only file has metadata and no tensors.
	out, _, code = inspectCmd(t, testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf"))
	if code != 0 || !regexp.MustCompile(`(?m)^  chat template +yes \(\d+ bytes\)$`).MatchString(out) || !regexp.MustCompile(`(?m)^  vocab +128256 tokens`).MatchString(out) {
		t.Errorf("vocab: exit %d\n%s", code, out)
	}
}

// TestInspectUnusualValues writes a file with values JSON cannot hold
// directly (NaN, infinities), nested arrays, per-layer head counts, rope
// scaling and a long UTF-8 string.
func TestInspectUnusualValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd.gguf")
	kv := func(k string, v any) gguf.KV { return gguf.KV{Key: k, Value: gguf.MustValue(v)} }
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := gguf.NewWriter(f, []gguf.KV{
		kv("general.architecture", "llama"),
		kv("llama.block_count", uint32(2)),
		kv("llama.embedding_length", uint32(64)),
		kv("llama.attention.head_count", []int32{4, 8}),
		kv("llama.rope.scaling.type", "yarn"),
		kv("llama.rope.scaling.factor", float32(2)),
		kv("nan", float32(math.NaN())),
		kv("inf", []float64{math.Inf(-1), 1}),
		kv("nested", []gguf.Array{gguf.MustValue([]string{"a"}).Any().(gguf.Array)}),
		kv("long", strings.Repeat("é", 100)),
	}, []gguf.TensorSpec{{Name: "blk.0.x", Dims: []int64{4}, Type: quant.F32}, {Name: "blk.1.x", Dims: []int64{32}, Type: quant.Q8_0}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("blk.0.x", make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("blk.1.x", make([]byte, 34)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out, errs, code := inspectCmd(t, path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		`(?m)^  heads +4, KV heads 4 \(GQA 1\); per layer \[4 8\]`,
		`(?m)^  rope scaling +yarn, factor 2`,
		`(?m)^  long +string +"(é){60}"… \(200 bytes\)$`,
		`(?m)^  x +F32: 0; Q8_0: 1$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s\n%s", want, out)
		}
	}
	out, errs, code = inspectCmd(t, "--json", path)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errs)
	}
	r := decodeInspect(t, out)
	if string(r.Metadata["nan"]) != `"NaN"` || !strings.Contains(string(r.Metadata["inf"]), `"-Inf"`) {
		t.Errorf("nan %s, inf %s", r.Metadata["nan"], r.Metadata["inf"])
	}
	var nested bytes.Buffer
	if err := json.Compact(&nested, r.Metadata["nested"]); err != nil || nested.String() != `{"type":"array","len":1,"first":[{"type":"string","len":1,"first":["a"]}]}` {
		t.Errorf("nested %s (%v)", nested.String(), err)
	}
}

func TestInspectCorrupt(t *testing.T) {
	raw, err := os.ReadFile(testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []int{0, 3, 100, 5000, len(raw) - 1000} {
		path := filepath.Join(dir, "truncated.gguf")
		if err := os.WriteFile(path, raw[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{path}, {"--json", path}} {
			out, errs, code := inspectCmd(t, args...)
			if code != 1 || out != "" {
				t.Errorf("%d bytes %v: exit %d, stdout %q", n, args, code, out)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "smolbot inspect: ") || !strings.Contains(errs, path) || !strings.Contains(errs, " at byte ") {
				t.Errorf("%d bytes: stderr %q, want one line naming the file and the byte offset", n, errs)
			}
		}
	}
	_, errs, code := inspectCmd(t, filepath.Join(dir, "missing.gguf"))
	if code != 1 || strings.Count(errs, "\n") != 1 {
		t.Errorf("missing file: exit %d, stderr %q", code, errs)
	}
}

func TestInspectUsage(t *testing.T) {
	for _, args := range [][]string{{"a.gguf", "b.gguf"}, {"--bogus", "a.gguf"}} {
		if _, errs, code := inspectCmd(t, args...); code != 2 || !strings.Contains(errs, "smolbot inspect -h") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	var out, errb bytes.Buffer
	if code := runMain([]string{"help", "inspect"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--json") {
		t.Errorf("help inspect: exit %d, stdout %q", code, out.String())
	}
}
