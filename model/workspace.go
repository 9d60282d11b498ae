package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/tensor"
)

// Block holds the weights of one pre-norm transformer block with grouped
// query attention and a SwiGLU feed-forward network (Llama, SmolLM3).
type Block struct {
	AttnNorm       []float32      // [n_embd]
	Wq, Wk, Wv, Wo kernels.Matrix // q: n_head·d rows; k, v: n_head_kv·d rows; o: n_embd rows
	FFNNorm        []float32      // [n_embd]
	Gate, Up, Down kernels.Matrix // gate, up: n_ff rows; down: n_embd rows
}

// Hook receives named intermediate activations during Forward, for
// debugging and for diffing against llama.cpp's named tensors: name is
// llama.cpp's callback name ("attn_norm", "Qcur", "kqv_out", "ffn_out",
// "l_out", "result_norm", …), layer is the block index (-1 outside the
// blocks), and data holds rows × cols values (one row per token of the
// batch, or per output for "result_norm"). data is only valid during the
// call.
type Hook func(name string, layer int, data []float32, rows, cols int)

// Workspace is the scratch memory and per-call state of Forward for one
// model Config and up to MaxTokens tokens per call. All buffers are
// allocated by NewWorkspace, so a decode step allocates nothing (a
// sequence's cache still allocates one page every kvcache.PageCells
// tokens). A Workspace is used by one Forward at a time.
type Workspace struct {
	cfg  *Config
	pool *kernels.Pool
	max  int

	// Hook, if non-nil, is called with named activations.
	Hook Hook

	// Per-call state, set by Begin.
	spans  []Span
	n      int              // rows being computed (tokens, or outputs in the last layer)
	batchN int              // tokens in the batch
	nOut   int              // logits rows
	tok    []int32          // [max] token ids
	pos    []int            // [max] absolute positions
	cache  []*kvcache.Cache // [max] each token's cache
	outIdx []int            // [max] token index of each logits row
	cs     []float32        // [max × RopeDims] cos/sin per token
	rope   *tensor.RoPE

	// Rows from singleTok (tokens) or singleOut (output rows) on belong to
	// Decode spans and use the single-token arithmetic (-1: none);
	// singleRow is the one that applies to the rows being computed.
	singleTok, singleOut, singleRow int

	x, h     []float32 // [max × n_embd] residual stream, normed/projected
	q, att   []float32 // [max × n_head·d] queries, attention output
	k, v     []float32 // [max × n_head_kv·d]
	gate, up []float32 // [max × n_ff]
	xo       []float32 // [max × n_embd] normed rows of the outputs

	kqScale float32               // 1/sqrt(head_dim)
	scratch []*tensor.AttnScratch // per pool thread
	errs    []error               // per pool thread
	task    opTask
	swiglu  swigluPrologue
	mats    [3]kernels.Matrix
	dsts    [3][]float32
}

// NewWorkspace allocates a workspace for models with Config c running on
// pool, for batches of up to maxTokens tokens.
func NewWorkspace(c *Config, pool *kernels.Pool, maxTokens int) (*Workspace, error) {
	if maxTokens <= 0 {
		return nil, fmt.Errorf("model: workspace for %d tokens", maxTokens)
	}
	if pool == nil {
		return nil, fmt.Errorf("model: workspace needs a kernels.Pool")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	E, Q, KV, F := c.Embd, c.Heads*c.HeadDim(), c.KVHeads*c.HeadDim(), c.FFN
	if int64(maxTokens)*int64(max(E, Q, F)) > 1<<34 {
		return nil, fmt.Errorf("model: workspace for %d tokens is too large", maxTokens)
	}
	ws := &Workspace{
		cfg: c, pool: pool, max: maxTokens,
		tok: make([]int32, maxTokens), pos: make([]int, maxTokens),
		cache: make([]*kvcache.Cache, maxTokens), outIdx: make([]int, maxTokens),
		cs: make([]float32, maxTokens*c.RopeDims),
		x:  make([]float32, maxTokens*E), h: make([]float32, maxTokens*max(E, Q)),
		q: make([]float32, maxTokens*Q), att: make([]float32, maxTokens*Q),
		k: make([]float32, maxTokens*KV), v: make([]float32, maxTokens*KV),
		gate: make([]float32, maxTokens*F), up: make([]float32, maxTokens*F),
		xo:   make([]float32, maxTokens*E),
		errs: make([]error, pool.Threads()),
	}
	for range pool.Threads() {
		ws.scratch = append(ws.scratch, tensor.NewAttnScratch(c.GQA(), c.HeadDim(), kvcache.PageCells))
	}
	ws.task.ws = ws
	ws.swiglu.ws = ws
	// kq_scale = 1/sqrtf(head_dim): no attention.scale key is read for
	// these architectures (spec §3.1).
	ws.kqScale = 1 / float32(math.Sqrt(float64(float32(c.HeadDim()))))
	return ws, nil
}

// MaxTokens is the largest batch (sum of span lengths) Forward accepts.
func (ws *Workspace) MaxTokens() int { return ws.max }

// Config is the configuration the workspace was made for.
func (ws *Workspace) Config() *Config { return ws.cfg }

// Pool is the worker pool the workspace computes on.
func (ws *Workspace) Pool() *kernels.Pool { return ws.pool }

// Begin validates a batch and prepares a forward pass of a model with
// Config cfg: it checks the workspace, the spans against the caches and the
// logits buffer, grows the caches, and computes the RoPE table of every
// token (rope may be nil if no layer rotates).
func (ws *Workspace) Begin(cfg *Config, spans []Span, logits []float32, rope *tensor.RoPE) error {
	c := ws.cfg
	if cfg != c && *cfg != *c {
		return fmt.Errorf("model: workspace was made for a different model configuration")
	}
	n, nOut := 0, 0
	for si := range spans {
		s := &spans[si]
		if s.Cache == nil {
			return fmt.Errorf("model: span %d has no cache", si)
		}
		o := s.Cache.Options()
		if o.Layers != c.Layers || o.KVHeads != c.KVHeads || o.HeadDim != c.HeadDim() {
			return fmt.Errorf("model: span %d: cache for %d layers × %d KV heads × %d does not fit the model (%d × %d × %d)",
				si, o.Layers, o.KVHeads, o.HeadDim, c.Layers, c.KVHeads, c.HeadDim())
		}
		for sj := range si {
			if spans[sj].Cache == s.Cache {
				return fmt.Errorf("model: spans %d and %d share a cache", sj, si)
			}
		}
		if s.Logits < LogitsNone || s.Logits > LogitsAll {
			return fmt.Errorf("model: span %d: invalid logits mode %d", si, s.Logits)
		}
		if s.Cache.Len()+len(s.Tokens) > s.Cache.Cap() {
			return fmt.Errorf("model: span %d: %d cached + %d new tokens exceed the context of %d: %w",
				si, s.Cache.Len(), len(s.Tokens), s.Cache.Cap(), ErrContextFull)
		}
		for _, t := range s.Tokens {
			if t < 0 || int(t) >= c.Vocab {
				return fmt.Errorf("model: span %d: token id %d outside the vocabulary [0, %d)", si, t, c.Vocab)
			}
		}
		n += len(s.Tokens)
		nOut += s.Outputs()
	}
	if n == 0 {
		return fmt.Errorf("model: empty batch")
	}
	if n > ws.max {
		return fmt.Errorf("model: batch of %d tokens exceeds the workspace's %d", n, ws.max)
	}
	if len(logits) < nOut*c.Vocab {
		return fmt.Errorf("model: logits buffer holds %d values, need %d rows × %d", len(logits), nOut, c.Vocab)
	}
	for si := range spans {
		s := &spans[si]
		if err := s.Cache.Grow(s.Cache.Len() + len(s.Tokens)); err != nil {
			return err
		}
	}
	ws.spans, ws.n, ws.batchN, ws.nOut, ws.rope = spans, n, n, nOut, rope
	ws.singleTok, ws.singleOut = -1, -1
	for si, toks, outs := 0, 0, 0; si < len(spans); si++ {
		if spans[si].Decode {
			ws.singleTok, ws.singleOut = toks, outs
			break
		}
		toks += len(spans[si].Tokens)
		outs += spans[si].Outputs()
	}
	ws.setSingleRow(ws.singleTok)
	i, o := 0, 0
	for si := range spans {
		s := &spans[si]
		base := s.Cache.Len()
		for j, t := range s.Tokens {
			ws.tok[i], ws.pos[i], ws.cache[i] = t, base+j, s.Cache
			if s.Logits == LogitsAll || (s.Logits == LogitsLast && j == len(s.Tokens)-1) {
				ws.outIdx[o] = i
				o++
			}
			i++
		}
	}
	if rope != nil {
		R := c.RopeDims
		for i := range n {
			rope.CosSin(ws.pos[i], ws.cs[i*R:(i+1)*R])
		}
	}
	clear(ws.errs)
	return nil
}

// Tokens is the number of tokens of the current batch.
func (ws *Workspace) Tokens() int { return ws.batchN }

// keepOutputRows compacts the query and residual rows to those of the
// requested outputs (in order, so copying forward is safe).
func (ws *Workspace) keepOutputRows() {
	c := ws.cfg
	E, Q := c.Embd, c.Heads*c.HeadDim()
	for r := 0; r < ws.nOut; r++ {
		j := ws.outIdx[r]
		if j != r {
			copy(ws.q[r*Q:(r+1)*Q], ws.q[j*Q:(j+1)*Q])
			copy(ws.x[r*E:(r+1)*E], ws.x[j*E:(j+1)*E])
			ws.pos[r], ws.cache[r] = ws.pos[j], ws.cache[j]
			ws.outIdx[r] = r
		}
	}
	ws.n = ws.nOut
	ws.setSingleRow(ws.singleOut)
}

// setSingleRow makes rows r… of the following products and attention use
// the single-token arithmetic (r < 0: none).
func (ws *Workspace) setSingleRow(r int) {
	ws.singleRow = r
	ws.pool.SetSingleTokenFrom(r)
}

// decodeRow reports whether row r of the rows being computed takes the
// single-token arithmetic: a batch of one, or a row of a Decode span.
func (ws *Workspace) decodeRow(r int) bool {
	return ws.batchN == 1 || (ws.singleRow >= 0 && r >= ws.singleRow)
}

func (ws *Workspace) hook(name string, layer int, data []float32, rows, cols int) {
	if ws.Hook != nil {
		ws.Hook(name, layer, data[:rows*cols], rows, cols)
	}
}

// run executes one element-wise op over items on the pool.
func (ws *Workspace) run(op opKind, items int) error {
	ws.task.op = op
	ws.pool.RunTask(items, &ws.task)
	for _, err := range ws.errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Embed looks up the embedding rows of the batch's tokens (ggml get_rows):
// an exact dequantization of each row of tokEmbd into the residual stream.
func (ws *Workspace) Embed(tokEmbd kernels.Matrix) error {
	ws.task.mat = tokEmbd
	if err := ws.run(opEmbed, ws.n); err != nil {
		return err
	}
	ws.hook("inp_embd", -1, ws.x, ws.n, ws.cfg.Embd)
	return nil
}

// Attention runs the attention half of block il: x += Wo·attn(norm(x)).
// With rope false (a NoPE layer) q and k are used as projected.
func (ws *Workspace) Attention(il int, b *Block, rope bool) error {
	c, n := ws.cfg, ws.n
	E, Q, KV := c.Embd, c.Heads*c.HeadDim(), c.KVHeads*c.HeadDim()
	ws.task.layer, ws.task.norm, ws.task.rope = il, b.AttnNorm, rope && ws.rope != nil
	if err := ws.run(opNorm, n); err != nil {
		return err
	}
	ws.hook("attn_norm", il, ws.h, n, E)
	ws.mats = [3]kernels.Matrix{b.Wq, b.Wk, b.Wv}
	ws.dsts = [3][]float32{ws.q, ws.k, ws.v}
	if err := ws.pool.MatMulMulti(ws.dsts[:], ws.mats[:], ws.h, n); err != nil {
		return fmt.Errorf("model: layer %d q/k/v: %w", il, err)
	}
	if err := ws.run(opRopeStore, n); err != nil {
		return err
	}
	ws.hook("Qcur", il, ws.q, n, Q)
	ws.hook("Kcur", il, ws.k, n, KV)
	ws.hook("Vcur", il, ws.v, n, KV)
	if il == c.Layers-1 && ws.nOut < n {
		// Every token's K/V is stored; past that point the last layer only
		// matters for the rows whose logits were requested (llama.cpp's
		// inp_out_ids), so the rest of the pass runs on those alone.
		ws.keepOutputRows()
		n = ws.n
	}
	if err := ws.run(opAttend, n*c.KVHeads); err != nil {
		return err
	}
	ws.hook("kqv_out", il, ws.att, n, Q)
	if err := ws.pool.MatMul(ws.h, b.Wo, ws.att, n); err != nil {
		return fmt.Errorf("model: layer %d attn_output: %w", il, err)
	}
	ws.hook("attn_out", il, ws.h, n, E)
	if err := ws.run(opAdd, chunks(n*E)); err != nil {
		return err
	}
	ws.hook("ffn_inp", il, ws.x, n, E)
	return nil
}

// FeedForward runs the MLP half of block il:
// x += Wdown·(silu(Wgate·h) ⊙ Wup·h) with h = norm(x).
func (ws *Workspace) FeedForward(il int, b *Block) error {
	c, n := ws.cfg, ws.n
	E := c.Embd
	ws.task.layer, ws.task.norm = il, b.FFNNorm
	if err := ws.run(opNorm, n); err != nil {
		return err
	}
	ws.hook("ffn_norm", il, ws.h, n, E)
	ws.mats = [3]kernels.Matrix{b.Gate, b.Up}
	ws.dsts = [3][]float32{ws.gate, ws.up}
	if err := ws.pool.MatMulMulti(ws.dsts[:2], ws.mats[:2], ws.h, n); err != nil {
		return fmt.Errorf("model: layer %d gate/up: %w", il, err)
	}
	ws.hook("ffn_gate", il, ws.gate, n, c.FFN)
	ws.hook("ffn_up", il, ws.up, n, c.FFN)
	// SwiGLU runs as the down projection's prologue: each thread computes
	// the chunks of silu(gate)⊙up it then quantizes, with no barrier of its
	// own.
	if err := ws.pool.MatMulPrologue(ws.h, b.Down, ws.gate, n, &ws.swiglu); err != nil {
		return fmt.Errorf("model: layer %d ffn_down: %w", il, err)
	}
	ws.hook("ffn_out", il, ws.h, n, E)
	if err := ws.run(opAdd, chunks(n*E)); err != nil {
		return err
	}
	ws.hook("l_out", il, ws.x, n, E)
	return nil
}

// Output applies the final norm to the rows whose logits were requested,
// multiplies them by the LM head into logits, and commits the new tokens to
// their caches. It ends the forward pass.
func (ws *Workspace) Output(norm []float32, head kernels.Matrix, logits []float32) error {
	c := ws.cfg
	if ws.nOut > 0 {
		ws.task.norm = norm
		if err := ws.run(opOutNorm, ws.nOut); err != nil {
			return err
		}
		ws.hook("result_norm", -1, ws.xo, ws.nOut, c.Embd)
		ws.setSingleRow(ws.singleOut)
		err := ws.pool.MatMul(logits, head, ws.xo, ws.nOut)
		ws.setSingleRow(-1)
		if err != nil {
			return fmt.Errorf("model: output: %w", err)
		}
		ws.hook("result_output", -1, logits, ws.nOut, c.Vocab)
	}
	for si := range ws.spans {
		s := &ws.spans[si]
		if err := s.Cache.SetLen(s.Cache.Len() + len(s.Tokens)); err != nil {
			return err
		}
	}
	ws.spans = nil
	return nil
}

// chunkElems is the granularity of element-wise work items.
const chunkElems = 4096

func chunks(n int) int { return (n + chunkElems - 1) / chunkElems }

type opKind int

const (
	opEmbed opKind = iota
	opNorm
	opRopeStore
	opAttend
	opAdd
	opOutNorm
)

// opTask is the pool task of the element-wise ops; a long-lived value so
// that RunTask does not allocate.
type opTask struct {
	ws    *Workspace
	op    opKind
	layer int
	norm  []float32
	rope  bool
	mat   kernels.Matrix
}

var errEmbedRow = errors.New("model: embedding row")

// Do runs item i of the current op on pool thread thread.
func (t *opTask) Do(i, thread int) {
	ws := t.ws
	c := ws.cfg
	E := c.Embd
	switch t.op {
	case opEmbed:
		rb := t.mat.RowBytes()
		id := int(ws.tok[i])
		if err := quant.DequantizeRow(t.mat.Type, t.mat.Data[id*rb:(id+1)*rb], ws.x[i*E:(i+1)*E]); err != nil {
			ws.errs[thread] = fmt.Errorf("%w %d: %v", errEmbedRow, id, err)
		}
	case opNorm:
		tensor.RMSNorm(ws.h[i*E:(i+1)*E], ws.x[i*E:(i+1)*E], t.norm, c.RMSEps)
	case opOutNorm:
		j := ws.outIdx[i]
		tensor.RMSNorm(ws.xo[i*E:(i+1)*E], ws.x[j*E:(j+1)*E], t.norm, c.RMSEps)
	case opRopeStore:
		D := c.HeadDim()
		Q, KV := c.Heads*D, c.KVHeads*D
		q, k := ws.q[i*Q:(i+1)*Q], ws.k[i*KV:(i+1)*KV]
		if t.rope {
			cs := ws.cs[i*c.RopeDims : (i+1)*c.RopeDims]
			tensor.Rotate(q, c.Heads, D, cs)
			tensor.Rotate(k, c.KVHeads, D, cs)
		}
		ws.cache[i].Put(t.layer, ws.pos[i], k, ws.v[i*KV:(i+1)*KV])
	case opAttend:
		D, G := c.HeadDim(), c.GQA()
		tok, kvh := i/c.KVHeads, i%c.KVHeads
		Q := c.Heads * D
		lo := tok*Q + kvh*G*D
		ws.cache[tok].Layer(t.layer).Attend(ws.att[lo:lo+G*D], ws.q[lo:lo+G*D], kvh, ws.pos[tok]+1, ws.kqScale, ws.decodeRow(tok), ws.scratch[thread])
	case opAdd:
		lo, hi := i*chunkElems, min((i+1)*chunkElems, ws.n*E)
		tensor.Add(ws.x[lo:hi], ws.h[lo:hi])
	}
}

// swigluPrologue computes gate = silu(gate) ⊙ up chunk by chunk as the
// prologue of the down projection (kernels.Prologue).
type swigluPrologue struct{ ws *Workspace }

// Prepare computes elements [e0, e1) of row t. Chunks start at multiples
// of 1024, so they never split SwiGLU's 16-lane groups: the result is that
// of one call over the whole row.
func (p *swigluPrologue) Prepare(t, e0, e1 int) {
	F := p.ws.cfg.FFN
	lo, hi := t*F+e0, t*F+e1
	tensor.SwiGLU(p.ws.gate[lo:hi], p.ws.gate[lo:hi], p.ws.up[lo:hi])
}
