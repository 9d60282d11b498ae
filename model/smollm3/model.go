// Package smollm3 implements Hugging Face's SmolLM3 (GGUF architecture
// "smollm3"), following llama.cpp's src/models/smollm3.cpp: a Llama-style
// decoder with grouped-query attention, SwiGLU, tied embeddings, and no
// positional encoding in every fourth layer (see
// ../shared/docs/smollm3-spec.md §2–§3).
//
// Importing the package registers the architecture with package model.
package smollm3

import (
	"fmt"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/tensor"
)

// Arch is the general.architecture value of SmolLM3 files.
const Arch = "smollm3"

func init() { model.Register(Arch, Load) }

// Model is a loaded SmolLM3. Its matrices are views into the GGUF mapping.
type Model struct {
	cfg        *model.Config
	rope       *tensor.RoPE
	tokEmbd    kernels.Matrix // token_embd: embedding rows, and the LM head when tied
	output     kernels.Matrix // output.weight if present, else tokEmbd
	outputNorm []float32
	blocks     []model.Block
}

// ---- Hyperparameters ----

// noRoPELayerStep is llama.cpp's n_no_rope_layer_step for SmolLM3. No GGUF
// key carries it: llama.cpp hard-codes 4, matching HF's default
// no_rope_layers list (spec §2.1).
const noRoPELayerStep = 4

// usesRoPE reports whether layer il (0-based) rotates q and k. SmolLM3 drops
// RoPE in every fourth layer (3, 7, 11, …) so those layers attend by content
// alone, which helps long-context retrieval; nothing replaces the rotation
// there (no scaling, no temperature).
func usesRoPE(il int) bool { return (il+1)%noRoPELayerStep != 0 }

// Load reads SmolLM3's hyperparameters and binds its tensors. f must stay
// open while the model is used.
func Load(f *gguf.File) (model.Model, error) {
	// rope.freq_base is required: llama.cpp's silent default of 10000 would
	// be badly wrong for SmolLM3's 5e6 (spec §8.4).
	cfg, err := model.ReadConfig(f, model.ConfigOptions{RequireRopeBase: true})
	if err != nil {
		return nil, err
	}
	if cfg.Arch != Arch {
		return nil, fmt.Errorf("smollm3: file architecture is %q", cfg.Arch)
	}
	rope, err := tensor.NewRoPE(cfg.RoPE(nil))
	if err != nil {
		return nil, fmt.Errorf("smollm3: %w", err)
	}
	m := &Model{cfg: cfg, rope: rope}
	if err := m.bindTensors(model.NewTensors(f)); err != nil {
		return nil, err
	}
	return m, nil
}

// Config returns the hyperparameters.
func (m *Model) Config() *model.Config { return m.cfg }

// ---- Tensors ----

// bindTensors binds every tensor with its expected ggml shape
// (ne = [inputs, outputs]); a missing, misshapen or unsupported tensor, or
// an extra one, is an error naming it.
func (m *Model) bindTensors(t *model.Tensors) error {
	c := m.cfg
	E, V, F := c.Embd, c.Vocab, c.FFN
	Q, KV := c.Heads*c.HeadDim(), c.KVHeads*c.HeadDim()

	m.tokEmbd = t.Matrix("token_embd.weight", E, V)
	m.outputNorm = t.Vector("output_norm.weight", E)
	// Tied embeddings: SmolLM3 files carry no output.weight and the LM head
	// is token_embd (spec §2.2, §8.3). A file that does have one uses it.
	var ok bool
	if m.output, ok = t.OptionalMatrix("output.weight", E, V); !ok {
		m.output = m.tokEmbd
	}
	m.blocks = make([]model.Block, c.Layers)
	for il := range m.blocks {
		b := &m.blocks[il]
		b.AttnNorm = t.Vector(model.Blk(il, "attn_norm"), E)
		b.Wq = t.Matrix(model.Blk(il, "attn_q"), E, Q)
		b.Wk = t.Matrix(model.Blk(il, "attn_k"), E, KV)
		b.Wv = t.Matrix(model.Blk(il, "attn_v"), E, KV)
		b.Wo = t.Matrix(model.Blk(il, "attn_output"), Q, E)
		b.FFNNorm = t.Vector(model.Blk(il, "ffn_norm"), E)
		b.Gate = t.Matrix(model.Blk(il, "ffn_gate"), E, F)
		b.Up = t.Matrix(model.Blk(il, "ffn_up"), E, F)
		b.Down = t.Matrix(model.Blk(il, "ffn_down"), F, E)
	}
	return t.Finish()
}

// ---- Forward ----

// Forward runs the batch through the network (spec §3.1): embedding; per
// layer, attention (RoPE except on NoPE layers) and SwiGLU MLP, each behind
// an RMSNorm and a residual; final norm and LM head for the requested rows.
func (m *Model) Forward(ws *model.Workspace, spans []model.Span, logits []float32) error {
	if err := ws.Begin(m.cfg, spans, logits, m.rope); err != nil {
		return err
	}
	if err := ws.Embed(m.tokEmbd); err != nil {
		return err
	}
	for il := range m.blocks {
		b := &m.blocks[il]
		if err := ws.Attention(il, b, usesRoPE(il)); err != nil {
			return err
		}
		if err := ws.FeedForward(il, b); err != nil {
			return err
		}
	}
	return ws.Output(m.outputNorm, m.output, logits)
}
