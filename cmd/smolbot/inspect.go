package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/hub"
	"github.com/smolbot/smolbot/internal/units"
	"github.com/smolbot/smolbot/quant"
)

func init() {
	c := &command{
		name:    "inspect",
		summary: "describe a model: architecture, metadata, tensors and quant mixture",
		usage:   "[--json] [--tensors] [--all] [--pull] [--cache DIR] [MODEL]   (MODEL: a GGUF file, an HF directory or a hub reference; default " + hub.DefaultRef + ")",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runInspect(c, args, stdout, stderr) }
	register(c)
}

// smallTensorCount is the most tensors listed without --tensors: tiny test
// models fit on a screen, real ones (326 tensors) do not.
const smallTensorCount = 48

func runInspect(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print everything as one JSON object")
	tensors := fs.Bool("tensors", false, "list every tensor (default: only when there are at most 48)")
	all := fs.Bool("all", false, "do not shorten arrays and strings; implies --tensors")
	pull := fs.Bool("pull", false, "download the model first if it is not in the cache (with a progress bar)")
	cache := cacheFlag(fs)
	files, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		return usageError("want one MODEL, got %d", len(files))
	}
	mf := &modelFlags{pull: *pull, cache: cache}
	if len(files) == 1 {
		mf.ref = files[0]
	}
	path, err := mf.resolve(context.Background(), stderr)
	if err != nil {
		return err
	}
	// A Hugging Face directory is shown as the GGUF smolbot runs: the
	// metadata and tensors `smolbot convert` would write.
	m, err := hf.OpenPath(path)
	if err != nil {
		return err
	}
	defer m.Close()
	f := m.File
	r := buildReport(path, f, *all)
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // token texts like "<|im_end|>" stay readable
		return enc.Encode(r)
	}
	return r.print(stdout, *tensors || *all || len(f.Tensors) <= smallTensorCount)
}

// report is everything inspect knows about a file; its JSON form is the
// --json output.
type report struct {
	File         string      `json:"file"`
	Size         int64       `json:"size"`
	Version      uint32      `json:"version"`
	Alignment    int         `json:"alignment"`
	DataOffset   int64       `json:"data_offset"`
	Architecture archSummary `json:"architecture"`
	Metadata     metadata    `json:"metadata"`
	Tensors      []tensorRow `json:"tensors"`
	Totals       totals      `json:"totals"`
	// Mixture lists, for each per-layer tensor kind, which layers have
	// which type (e.g. attn_v.weight: Q6_K in layers 0-3,6,…).
	Mixture []mixRow `json:"mixture"`
}

// archSummary holds the hyperparameters a model loader would derive, with
// llama.cpp's defaults applied where keys are absent (spec §2.1).
type archSummary struct {
	Arch               string       `json:"arch"`
	Name               string       `json:"name,omitempty"`
	FileType           string       `json:"file_type,omitempty"`
	Layers             int64        `json:"layers"`
	EmbeddingLength    int64        `json:"embedding_length"`
	HeadCount          int64        `json:"head_count"`
	HeadCountKV        int64        `json:"head_count_kv"`
	HeadCountByLayer   []int64      `json:"head_count_per_layer,omitempty"` // only when layers differ
	HeadCountKVByLayer []int64      `json:"head_count_kv_per_layer,omitempty"`
	KeyLength          int64        `json:"key_length"`
	ValueLength        int64        `json:"value_length"`
	FFNLength          int64        `json:"feed_forward_length"`
	FFNByLayer         []int64      `json:"feed_forward_length_per_layer,omitempty"`
	ContextLength      int64        `json:"context_length"`
	RopeFreqBase       float32      `json:"rope_freq_base"`
	RopeFreqBaseSet    bool         `json:"rope_freq_base_in_file"`
	RopeDimensionCount int64        `json:"rope_dimension_count"`
	RopeScaling        *ropeScaling `json:"rope_scaling,omitempty"`
	NoPELayers         []int        `json:"nope_layers"`
	RMSNormEps         float32      `json:"rms_norm_eps"`
	VocabSize          int          `json:"vocab_size"`
	TokenizerModel     string       `json:"tokenizer_model,omitempty"`
	TokenizerPre       string       `json:"tokenizer_pre,omitempty"`
	BOS                *token       `json:"bos,omitempty"`
	EOS                *token       `json:"eos,omitempty"`
	ChatTemplate       bool         `json:"chat_template"`
	ChatTemplateLength int          `json:"chat_template_length"`
	TiedEmbeddings     bool         `json:"tied_embeddings"`
	Parameters         int64        `json:"parameters"`
}

type ropeScaling struct {
	Type                  string  `json:"type"`
	Factor                float32 `json:"factor"`
	OriginalContextLength int64   `json:"original_context_length,omitempty"`
}

type token struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
}

type tensorRow struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Shape  []int64 `json:"shape"` // ggml order: shape[0] is contiguous
	Offset uint64  `json:"offset"`
	Bytes  int64   `json:"bytes"`
}

type totals struct {
	Tensors     int        `json:"tensors"`
	TensorBytes int64      `json:"tensor_bytes"`
	Parameters  int64      `json:"parameters"`
	ByType      []typeStat `json:"by_type"`
}

type typeStat struct {
	Type    string  `json:"type"`
	Count   int     `json:"count"`
	Bytes   int64   `json:"bytes"`
	Percent float64 `json:"percent"` // of the tensor bytes
}

type mixRow struct {
	Tensor string           `json:"tensor"` // name without "blk.N."
	Layers map[string][]int `json:"layers"` // type name → layer indices
	order  []string         // types by first layer, for printing
}

func buildReport(path string, f *gguf.File, all bool) *report {
	r := &report{
		File: path, Size: f.Size, Version: f.Version, Alignment: f.Alignment, DataOffset: f.DataOffset,
		Metadata: metadata{kv: f.KV, all: all},
		Tensors:  make([]tensorRow, len(f.Tensors)),
	}
	byType := map[quant.Type]*typeStat{}
	for i, t := range f.Tensors {
		shape := t.Dims
		if shape == nil {
			shape = []int64{}
		}
		r.Tensors[i] = tensorRow{t.Name, t.Type.String(), shape, t.Offset, t.Size}
		r.Totals.TensorBytes += t.Size
		r.Totals.Parameters += t.Elements()
		s := byType[t.Type]
		if s == nil {
			s = &typeStat{Type: t.Type.String()}
			byType[t.Type] = s
		}
		s.Count++
		s.Bytes += t.Size
	}
	r.Totals.Tensors = len(f.Tensors)
	r.Totals.ByType = []typeStat{}
	for _, s := range byType {
		if r.Totals.TensorBytes > 0 {
			s.Percent = 100 * float64(s.Bytes) / float64(r.Totals.TensorBytes)
		}
		r.Totals.ByType = append(r.Totals.ByType, *s)
	}
	slices.SortFunc(r.Totals.ByType, func(a, b typeStat) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Type, b.Type))
	})
	r.Mixture = mixture(f.Tensors)
	r.Architecture = summarize(f, r.Totals.Parameters)
	return r
}

// summarize reads the hyperparameters under the architecture's prefix.
// Per-layer keys that hold arrays are summarized by their first layer, with
// the full list kept when layers differ.
func summarize(f *gguf.File, params int64) archSummary {
	arch := f.String("general.architecture", "")
	k := func(s string) string { return arch + "." + s }
	a := archSummary{
		Arch:          arch,
		Name:          f.String("general.name", ""),
		Layers:        f.Int(k("block_count"), 0),
		ContextLength: f.Int(k("context_length"), 0),
		Parameters:    params,
		NoPELayers:    []int{},
	}
	a.EmbeddingLength = f.Int(k("embedding_length"), 0)
	if f.Has("general.file_type") {
		a.FileType = gguf.FileTypeName(f.Uint("general.file_type", 0))
	}
	n := int(max(0, min(a.Layers, 1<<20)))
	perLayer := func(key string, def int64) (int64, []int64) {
		v, err := f.PerLayer(key, n, def)
		if err != nil || len(v) == 0 {
			return f.Int(key, def), nil
		}
		for _, x := range v[1:] {
			if x != v[0] {
				return v[0], v
			}
		}
		return v[0], nil
	}
	a.HeadCount, a.HeadCountByLayer = perLayer(k("attention.head_count"), 0)
	a.HeadCountKV, a.HeadCountKVByLayer = perLayer(k("attention.head_count_kv"), a.HeadCount)
	a.FFNLength, a.FFNByLayer = perLayer(k("feed_forward_length"), 0)
	headDim := int64(0)
	if a.HeadCount > 0 {
		headDim = a.EmbeddingLength / a.HeadCount
	}
	a.KeyLength = f.Int(k("attention.key_length"), headDim)
	a.ValueLength = f.Int(k("attention.value_length"), headDim)
	a.RopeFreqBaseSet = f.Has(k("rope.freq_base"))
	a.RopeFreqBase = f.Float32(k("rope.freq_base"), 10000)
	a.RopeDimensionCount = f.Int(k("rope.dimension_count"), headDim)
	if f.Has(k("rope.scaling.type")) || f.Has(k("rope.scaling.factor")) {
		a.RopeScaling = &ropeScaling{
			Type:                  f.String(k("rope.scaling.type"), "linear"),
			Factor:                f.Float32(k("rope.scaling.factor"), 0),
			OriginalContextLength: f.Int(k("rope.scaling.original_context_length"), 0),
		}
	}
	if nope := gguf.NoPELayers(arch, n); nope != nil {
		a.NoPELayers = nope
	}
	a.RMSNormEps = f.Float32(k("attention.layer_norm_rms_epsilon"), 0)

	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	a.VocabSize = len(tokens)
	a.TokenizerModel = f.String("tokenizer.ggml.model", "")
	a.TokenizerPre = f.String("tokenizer.ggml.pre", "")
	special := func(key string) *token {
		if !f.Has(key) {
			return nil
		}
		t := &token{ID: f.Int(key, -1)}
		if t.ID >= 0 && t.ID < int64(len(tokens)) {
			t.Text = tokens[t.ID]
		}
		return t
	}
	a.BOS = special("tokenizer.ggml.bos_token_id")
	a.EOS = special("tokenizer.ggml.eos_token_id")
	tmpl := f.String("tokenizer.chat_template", "")
	a.ChatTemplate, a.ChatTemplateLength = f.Has("tokenizer.chat_template"), len(tmpl)
	_, hasOutput := f.Tensor("output.weight")
	_, hasEmbd := f.Tensor("token_embd.weight")
	a.TiedEmbeddings = hasEmbd && !hasOutput
	return a
}

// mixture groups the "blk.N.KIND" tensors by KIND and records each type's
// layers, which shows the quantizer's per-layer choices at a glance.
func mixture(ts []gguf.TensorInfo) []mixRow {
	rows := []mixRow{}
	index := map[string]int{}
	for _, t := range ts {
		rest, ok := strings.CutPrefix(t.Name, "blk.")
		if !ok {
			continue
		}
		num, kind, ok := strings.Cut(rest, ".")
		layer, err := strconv.Atoi(num)
		if !ok || err != nil || layer < 0 {
			continue
		}
		i, seen := index[kind]
		if !seen {
			i = len(rows)
			index[kind] = i
			rows = append(rows, mixRow{Tensor: kind, Layers: map[string][]int{}})
		}
		typ := t.Type.String()
		if _, ok := rows[i].Layers[typ]; !ok {
			rows[i].order = append(rows[i].order, typ)
		}
		rows[i].Layers[typ] = append(rows[i].Layers[typ], layer)
	}
	return rows
}

func (r *report) print(w io.Writer, listTensors bool) error {
	var err error
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(tw, format+"\n", args...)
		}
	}
	section := func(title string) {
		if err == nil {
			err = tw.Flush()
		}
		line("\n%s", title)
	}
	a := &r.Architecture

	line("file\t%s", r.File)
	line("size\t%s (%d bytes)", units.Bytes(r.Size), r.Size)
	line("format\tGGUF v%d, %d metadata keys, %d tensors, alignment %d, data at byte %d", r.Version, len(r.Metadata.kv), r.Totals.Tensors, r.Alignment, r.DataOffset)
	if a.FileType != "" {
		line("file type\t%s", a.FileType)
	}
	if r.Totals.Tensors > 0 {
		line("parameters\t%s (%d)", humanCount(r.Totals.Parameters), r.Totals.Parameters)
	}

	section("architecture")
	opt := func(label string, v int64) {
		if v != 0 {
			line("  %s\t%d", label, v)
		}
	}
	line("  arch\t%s", cmp.Or(a.Arch, "(none)"))
	if a.Name != "" {
		line("  name\t%s", a.Name)
	}
	opt("layers", a.Layers)
	opt("embedding length", a.EmbeddingLength)
	if a.HeadCount != 0 {
		s := fmt.Sprintf("%d, KV heads %d", a.HeadCount, a.HeadCountKV)
		if a.HeadCountKV > 0 && a.HeadCount%a.HeadCountKV == 0 {
			s += fmt.Sprintf(" (GQA %d)", a.HeadCount/a.HeadCountKV)
		}
		if a.HeadCountByLayer != nil || a.HeadCountKVByLayer != nil {
			s += fmt.Sprintf("; per layer %v / %v", a.HeadCountByLayer, a.HeadCountKVByLayer)
		}
		line("  heads\t%s", s)
		line("  head dim\t%d (key), %d (value)", a.KeyLength, a.ValueLength)
	}
	if a.FFNLength != 0 {
		if a.FFNByLayer != nil {
			line("  feed-forward length\t%v", a.FFNByLayer)
		} else {
			line("  feed-forward length\t%d", a.FFNLength)
		}
	}
	opt("context length", a.ContextLength)
	if a.Layers > 0 {
		base := fmtFloat32(a.RopeFreqBase)
		if !a.RopeFreqBaseSet {
			base += " (key absent: llama.cpp's default)"
		}
		line("  rope\tbase %s, %d dimensions", base, a.RopeDimensionCount)
		if s := a.RopeScaling; s != nil {
			line("  rope scaling\t%s, factor %s, original context %d", s.Type, fmtFloat32(s.Factor), s.OriginalContextLength)
		}
		nope := "none"
		if len(a.NoPELayers) > 0 {
			nope = fmt.Sprintf("%s (%d of %d layers skip RoPE)", intList(a.NoPELayers, false), len(a.NoPELayers), a.Layers)
		}
		line("  NoPE layers\t%s", nope)
		if a.RMSNormEps != 0 {
			line("  RMS norm eps\t%s", fmtFloat32(a.RMSNormEps))
		}
		if r.Totals.Tensors > 0 {
			line("  tied embeddings\t%v", a.TiedEmbeddings)
		}
	}
	if a.VocabSize > 0 || a.TokenizerModel != "" {
		line("  vocab\t%d tokens (model %s, pre %s)", a.VocabSize, cmp.Or(a.TokenizerModel, "?"), cmp.Or(a.TokenizerPre, "?"))
	}
	for _, t := range []struct {
		label string
		tok   *token
	}{{"BOS", a.BOS}, {"EOS", a.EOS}} {
		if t.tok != nil {
			line("  %s\t%d %q", t.label, t.tok.ID, t.tok.Text)
		}
	}
	if a.ChatTemplate {
		line("  chat template\tyes (%d bytes)", a.ChatTemplateLength)
	} else {
		line("  chat template\tno")
	}

	section("metadata")
	line("  KEY\tTYPE\tVALUE")
	for _, p := range r.Metadata.kv {
		line("  %s\t%s\t%s", p.Key, typeName(p.Value), formatValue(p.Value, r.Metadata.all))
	}

	if r.Totals.Tensors == 0 {
		if err == nil {
			err = tw.Flush()
		}
		return err
	}
	if listTensors {
		section("tensors")
		line("  NAME\tTYPE\tSHAPE\tBYTES")
		for _, t := range r.Tensors {
			line("  %s\t%s\t%s\t%d", t.Name, t.Type, shapeString(t.Shape), t.Bytes)
		}
	} else {
		section(fmt.Sprintf("tensors: %d (list them with --tensors)", r.Totals.Tensors))
	}

	section("tensor bytes by type")
	line("  TYPE\tCOUNT\tBYTES\t%%")
	for _, s := range r.Totals.ByType {
		line("  %s\t%d\t%d\t%.1f", s.Type, s.Count, s.Bytes, s.Percent)
	}
	line("  total\t%d\t%d\t(%s; the rest of the file is %d bytes of header and padding)", r.Totals.Tensors, r.Totals.TensorBytes, units.Bytes(r.Totals.TensorBytes), r.Size-r.Totals.TensorBytes)

	if len(r.Mixture) > 0 {
		section("per-layer types")
		for _, m := range r.Mixture {
			parts := make([]string, len(m.order))
			for i, typ := range m.order {
				if len(m.order) == 1 {
					parts[i] = fmt.Sprintf("%s (all %d layers)", typ, len(m.Layers[typ]))
				} else {
					parts[i] = fmt.Sprintf("%s: %s", typ, intList(m.Layers[typ], true))
				}
			}
			line("  %s\t%s", m.Tensor, strings.Join(parts, "; "))
		}
	}
	if err == nil {
		err = tw.Flush()
	}
	return err
}

// metadata marshals the KV pairs as one JSON object in file order.
// Arrays become {"type", "len", "first"}: the first 8 elements, or all of
// them with --all.
type metadata struct {
	kv  []gguf.KV
	all bool
}

// MarshalJSON writes the keys in file order, which a Go map would lose.
func (m metadata) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range m.kv {
		if i > 0 {
			b.WriteByte(',')
		}
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(p.Key); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		b.WriteByte(':')
		if err := enc.Encode(jsonValue(p.Value, m.all)); err != nil {
			return nil, fmt.Errorf("metadata %q: %w", p.Key, err)
		}
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// arraySummary is the JSON form of an array value.
type arraySummary struct {
	Type  string `json:"type"`
	Len   int    `json:"len"`
	First []any  `json:"first"`
}

const arrayPreview = 8

func jsonValue(v gguf.Value, all bool) any {
	if a, ok := v.Array(); ok {
		n := a.Len()
		if !all {
			n = min(n, arrayPreview)
		}
		s := arraySummary{Type: a.Elem.String(), Len: a.Len(), First: make([]any, n)}
		for i := range n {
			s.First[i] = jsonValue(a.At(i), all)
		}
		return s
	}
	// JSON has no NaN or infinities; spell them as strings.
	switch x := v.Any().(type) {
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmtFloat32(x)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	}
	return v.Any()
}

func typeName(v gguf.Value) string {
	if a, ok := v.Array(); ok {
		return fmt.Sprintf("[%s × %d]", a.Elem, a.Len())
	}
	return v.Type.String()
}

const stringPreview = 60

// formatValue renders a value for the metadata table: strings quoted and,
// unless all, cut to stringPreview runes; arrays as their first elements.
func formatValue(v gguf.Value, all bool) string {
	if a, ok := v.Array(); ok {
		n := a.Len()
		show := n
		if !all {
			show = min(n, arrayPreview)
		}
		parts := make([]string, show, show+1)
		for i := range show {
			parts[i] = formatValue(a.At(i), all)
		}
		if show < n {
			parts = append(parts, "…")
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	if s, ok := v.AsString(); ok {
		if !all && utf8.RuneCountInString(s) > stringPreview {
			cut := 0
			for range stringPreview {
				_, size := utf8.DecodeRuneInString(s[cut:])
				cut += size
			}
			return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
		}
		return strconv.Quote(s)
	}
	if x, ok := v.Any().(float32); ok {
		return fmtFloat32(x)
	}
	return fmt.Sprint(v.Any())
}

// fmtFloat32 prints the shortest decimal that reads back as the same float32.
func fmtFloat32(x float32) string { return strconv.FormatFloat(float64(x), 'g', -1, 32) }

func shapeString(dims []int64) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// intList prints sorted layer indices, collapsing runs ("0-3, 6, 9") when
// ranges is set.
func intList(xs []int, ranges bool) string {
	var parts []string
	for i := 0; i < len(xs); {
		j := i
		for ranges && j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, fmt.Sprintf("%d-%d", xs[i], xs[j]))
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, strconv.Itoa(xs[k]))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f K", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}
