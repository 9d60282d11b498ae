package hf

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/safetensors"
)

// Tensor is one GGUF tensor of a checkpoint: its GGUF name and shape, and
// where its data come from.
type Tensor struct {
	Name    string     // GGUF name, e.g. "blk.0.attn_q.weight"
	Source  string     // HF name, e.g. "model.layers.0.self_attn.q_proj.weight"
	Dims    []int64    // ggml order: Dims[0] is contiguous (the reverse of the HF shape)
	SrcType quant.Type // F32, F16 or BF16, as stored
	// Type is what a GGUF converted without re-encoding holds: SrcType for
	// matrices, F32 for 1-D tensors and norms (llama.cpp's converter rule).
	Type quant.Type
	// PermuteHeads, when non-zero, is the head count of a Q or K projection
	// whose rows (elements, for a bias) must be permuted within each head
	// from HF's rotate-half layout to GGUF's adjacent-pair layout (spec §3.4).
	PermuteHeads int
}

// Rows is the number of rows (the product of Dims[1:]).
func (t *Tensor) Rows() int64 {
	n := int64(1)
	for _, d := range t.Dims[min(1, len(t.Dims)):] {
		n *= d
	}
	return n
}

// Cols is the row length in elements (Dims[0], or 1 for a scalar).
func (t *Tensor) Cols() int64 {
	if len(t.Dims) == 0 {
		return 1
	}
	return t.Dims[0]
}

// Checkpoint is an HF model directory read as GGUF: metadata pairs and a
// tensor plan over the memory-mapped safetensors. Tensor data are read with
// SourceData/ReadRows; nothing is copied until asked.
type Checkpoint struct {
	Dir     string
	Arch    string
	Config  *Config
	Vocab   *Vocab
	KV      []gguf.KV // everything except general.file_type (which depends on the output)
	Tensors []Tensor  // in llama.cpp's layer order
	// Warnings are non-fatal doubts to show the user.
	Warnings []string

	set *safetensors.Set
}

// IsModelDir reports whether path is a directory that looks like an HF
// model (it holds config.json and some safetensors weights).
func IsModelDir(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return false
	}
	if _, err := os.Stat(filepath.Join(path, ConfigFile)); err != nil {
		return false
	}
	m, _ := filepath.Glob(filepath.Join(path, "*.safetensors"))
	return len(m) > 0
}

// Read parses dir and maps its weights. Close releases them.
func Read(dir string) (*Checkpoint, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	arch, err := cfg.Arch()
	if err != nil {
		return nil, err
	}
	voc, err := ReadVocab(dir, cfg)
	if err != nil {
		return nil, err
	}
	hp, err := cfg.hparams(arch)
	if err != nil {
		return nil, err
	}
	sampling, err := samplingKV(dir)
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	c := &Checkpoint{Dir: dir, Arch: arch, Config: cfg, Vocab: voc, set: set, Warnings: voc.Warnings}
	if err := c.plan(); err != nil {
		set.Close()
		return nil, err
	}
	var m kv
	m.add("general.architecture", arch)
	// general.name: the hub id the checkpoint records, else the directory
	// name (which for a hub snapshot directory would be a commit hash).
	name := filepath.Base(filepath.Clean(dir))
	if abs, err := filepath.Abs(dir); err == nil {
		name = filepath.Base(abs)
	}
	if n := strings.TrimRight(cfg.NameOrPath, "/"); n != "" {
		name = n[strings.LastIndexAny(n, `/\`)+1:]
	}
	m.add("general.name", name)
	m = append(m, hp...)
	m = append(m, sampling...)
	m.add(arch+".vocab_size", uint32(len(voc.Tokens)))
	c.KV = append(m, voc.KV()...)
	return c, nil
}

// Close unmaps the safetensors files. Views returned by SourceData become invalid.
func (c *Checkpoint) Close() error {
	if c == nil || c.set == nil {
		return nil
	}
	err := c.set.Close()
	c.set = nil
	return err
}

// layerTensors maps the HF names inside a decoder layer to GGUF names, in
// the order llama.cpp lists a layer's tensors. perm marks Q (1) and K (2).
var layerTensors = []struct {
	hf, gguf string
	perm     int
}{
	{"input_layernorm.weight", "attn_norm.weight", 0},
	{"self_attn.q_proj.weight", "attn_q.weight", 1},
	{"self_attn.q_proj.bias", "attn_q.bias", 1},
	{"self_attn.k_proj.weight", "attn_k.weight", 2},
	{"self_attn.k_proj.bias", "attn_k.bias", 2},
	{"self_attn.v_proj.weight", "attn_v.weight", 0},
	{"self_attn.v_proj.bias", "attn_v.bias", 0},
	{"self_attn.o_proj.weight", "attn_output.weight", 0},
	{"self_attn.o_proj.bias", "attn_output.bias", 0},
	{"post_attention_layernorm.weight", "ffn_norm.weight", 0},
	{"mlp.gate_proj.weight", "ffn_gate.weight", 0},
	{"mlp.up_proj.weight", "ffn_up.weight", 0},
	{"mlp.down_proj.weight", "ffn_down.weight", 0},
}

// mapName returns the GGUF name of an HF tensor, a sort key giving
// llama.cpp's order, and the permutation kind; skip is true for tensors the
// converter drops (rotary caches).
func (c *Checkpoint) mapName(hf string) (name string, key int, perm int, skip bool, err error) {
	s := strings.TrimPrefix(hf, "model.")
	nl := c.Config.NumHiddenLayers
	switch s {
	case "embed_tokens.weight":
		return "token_embd.weight", -1, 0, false, nil
	case "norm.weight":
		return "output_norm.weight", nl * 100, 0, false, nil
	case "lm_head.weight":
		// Tied checkpoints sometimes still carry the head; GGUF files of
		// tied models have no output.weight (spec §2.2).
		return "output.weight", nl*100 + 1, 0, c.Config.Tied(), nil
	}
	if rest, ok := strings.CutPrefix(s, "layers."); ok {
		idx, suffix, _ := strings.Cut(rest, ".")
		l, perr := strconv.Atoi(idx)
		if perr == nil && l >= 0 && l < nl && strconv.Itoa(l) == idx {
			if strings.HasSuffix(suffix, "rotary_emb.inv_freq") {
				return "", 0, 0, true, nil
			}
			for i, lt := range layerTensors {
				if lt.hf == suffix {
					return fmt.Sprintf("blk.%d.%s", l, lt.gguf), l*100 + i, lt.perm, false, nil
				}
			}
		}
	}
	return "", 0, 0, false, fmt.Errorf("hf: cannot map tensor %q to a GGUF name", hf)
}

// plan maps and checks every tensor.
func (c *Checkpoint) plan() error {
	cfg := c.Config
	hd := int64(cfg.headDim())
	nh, nkv := int64(cfg.NumAttentionHeads), int64(cfg.KVHeads())
	h, ff, nv := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(len(c.Vocab.Tokens))
	// Expected HF shapes (row-major) by GGUF suffix.
	want := map[string][]int64{
		"token_embd.weight": {nv, h}, "output.weight": {nv, h}, "output_norm.weight": {h},
		"attn_norm.weight": {h}, "ffn_norm.weight": {h},
		"attn_q.weight": {nh * hd, h}, "attn_q.bias": {nh * hd},
		"attn_k.weight": {nkv * hd, h}, "attn_k.bias": {nkv * hd},
		"attn_v.weight": {nkv * hd, h}, "attn_v.bias": {nkv * hd},
		"attn_output.weight": {h, nh * hd}, "attn_output.bias": {h},
		"ffn_gate.weight": {ff, h}, "ffn_up.weight": {ff, h}, "ffn_down.weight": {h, ff},
	}
	keys := map[string]int{}
	for _, src := range c.set.Names {
		name, key, perm, skip, err := c.mapName(src)
		if err != nil {
			return err
		}
		if skip {
			continue
		}
		st, _, _ := c.set.Tensor(src)
		typ, ok := st.DType.GGML()
		if !ok {
			return fmt.Errorf("hf: tensor %q has dtype %s; only F32, F16 and BF16 checkpoints are supported", src, st.DType)
		}
		suffix := name
		if strings.HasPrefix(name, "blk.") {
			suffix = name[strings.Index(name[4:], ".")+5:]
		}
		if w := want[suffix]; !slices.Equal(w, st.Shape) {
			return fmt.Errorf("hf: tensor %q has shape %v, config.json implies %v", src, st.Shape, w)
		}
		dims := make([]int64, len(st.Shape))
		for i, d := range st.Shape {
			dims[len(dims)-1-i] = d
		}
		t := Tensor{Name: name, Source: src, Dims: dims, SrcType: typ, Type: typ}
		if len(dims) <= 1 || strings.HasSuffix(name, "_norm.weight") {
			t.Type = quant.F32
		}
		switch perm {
		case 1:
			t.PermuteHeads = int(nh)
		case 2:
			t.PermuteHeads = int(nkv)
		}
		keys[name] = key
		c.Tensors = append(c.Tensors, t)
	}
	slices.SortStableFunc(c.Tensors, func(a, b Tensor) int { return keys[a.Name] - keys[b.Name] })
	// Every tensor the model needs must be there; reporting it here names
	// the HF tensor, which is clearer than the loader's GGUF name.
	have := map[string]bool{}
	for _, t := range c.Tensors {
		have[t.Name] = true
	}
	need := []string{"token_embd.weight", "output_norm.weight"}
	if !cfg.Tied() {
		need = append(need, "output.weight")
	}
	for l := range cfg.NumHiddenLayers {
		for _, lt := range layerTensors {
			if !strings.HasSuffix(lt.gguf, ".bias") {
				need = append(need, fmt.Sprintf("blk.%d.%s", l, lt.gguf))
			}
		}
	}
	for _, n := range need {
		if !have[n] {
			return fmt.Errorf("hf: checkpoint in %s has no tensor for %s", c.Dir, n)
		}
	}
	return nil
}

// SourceData returns the tensor's bytes as stored in the safetensors file
// (HF row order, source type): a view into the mapping.
func (c *Checkpoint) SourceData(t *Tensor) ([]byte, error) {
	if c.set == nil {
		return nil, fmt.Errorf("hf: checkpoint is closed")
	}
	return c.set.Data(t.Source)
}

// sourceRow maps GGUF row r of t to its HF row: inside each head of hd
// rows, GGUF row 2i+j holds HF row j·hd/2+i (spec §3.4).
func sourceRow(t *Tensor, r int64) int64 {
	if t.PermuteHeads == 0 {
		return r
	}
	rows := t.Rows()
	if len(t.Dims) == 1 {
		rows = t.Dims[0] // a bias: permute elements
	}
	hd := rows / int64(t.PermuteHeads)
	h, w := r/hd, r%hd
	return h*hd + (w%2)*(hd/2) + w/2
}

// checkPermutable verifies the head split of a permuted tensor.
func checkPermutable(t *Tensor) error {
	if t.PermuteHeads == 0 {
		return nil
	}
	n := t.Rows()
	if len(t.Dims) == 1 {
		n = t.Dims[0]
	}
	if n%(2*int64(t.PermuteHeads)) != 0 {
		return fmt.Errorf("hf: tensor %s: %d rows do not split into %d heads of an even size", t.Name, n, t.PermuteHeads)
	}
	return nil
}

// ReadRows calls fn for every GGUF row of t in order, decoded to float32 and
// permuted as GGUF stores it. A 1-D tensor is one row (a permuted bias is
// reordered element-wise). buf is reused between calls.
func (c *Checkpoint) ReadRows(t *Tensor, fn func(row []float32) error) error {
	src, err := c.SourceData(t)
	if err != nil {
		return err
	}
	if err := checkPermutable(t); err != nil {
		return err
	}
	cols, rows := t.Cols(), t.Rows()
	es := int64(t.SrcType.TypeSize())
	if cols*rows*es != int64(len(src)) {
		return fmt.Errorf("hf: tensor %s: %d bytes for %d×%d %s", t.Name, len(src), rows, cols, t.SrcType)
	}
	row := make([]float32, cols)
	if len(t.Dims) == 1 && t.PermuteHeads != 0 {
		all := make([]float32, cols)
		if err := decode(t.SrcType, src, all); err != nil {
			return err
		}
		for i := range row {
			row[i] = all[sourceRow(t, int64(i))]
		}
		return fn(row)
	}
	rb := cols * es
	for r := range rows {
		s := sourceRow(t, r)
		if err := decode(t.SrcType, src[s*rb:(s+1)*rb], row); err != nil {
			return err
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

// decode converts F32/F16/BF16 little-endian bytes to float32.
func decode(t quant.Type, src []byte, dst []float32) error {
	switch t {
	case quant.F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
		return nil
	case quant.F16, quant.BF16:
		return quant.DequantizeRow(t, src, dst)
	}
	return fmt.Errorf("hf: cannot decode %v", t)
}

// fileType is llama.cpp's general.file_type (llama_ftype) for an output
// whose matrices are all of type t.
func fileType(t quant.Type) (uint32, bool) {
	switch t {
	case quant.F32:
		return 0, true
	case quant.F16:
		return 1, true
	case quant.Q4_0:
		return 2, true
	case quant.Q8_0:
		return 7, true
	case quant.Q6_K:
		return 18, true
	case quant.BF16:
		return 32, true
	}
	return 0, false
}
