// Package llama implements the Llama architecture (GGUF "llama"),
// following llama.cpp's src/models/llama.cpp for dense models: RMSNorm,
// grouped-query attention with NORM-mode RoPE on every layer, SwiGLU MLP,
// and an LM head that is output.weight or, when absent, the tied
// token_embd.
//
// Importing the package registers the architecture with package model.
package llama

import (
	"fmt"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/tensor"
)

// Arch is the general.architecture value of Llama files.
const Arch = "llama"

func init() { model.Register(Arch, Load) }

// Model is a loaded Llama. Its matrices are views into the GGUF mapping.
type Model struct {
	cfg        *model.Config
	rope       *tensor.RoPE
	tokEmbd    kernels.Matrix
	output     kernels.Matrix // output.weight, or tokEmbd when tied
	outputNorm []float32
	blocks     []model.Block
}

// ---- Hyperparameters ----

// Load reads Llama's hyperparameters (rope.freq_base defaults to 10000, as
// in llama.cpp) and binds its tensors. f must stay open while the model is
// used.
func Load(f *gguf.File) (model.Model, error) {
	cfg, err := model.ReadConfig(f, model.ConfigOptions{})
	if err != nil {
		return nil, err
	}
	if cfg.Arch != Arch {
		return nil, fmt.Errorf("llama: file architecture is %q", cfg.Arch)
	}
	m := &Model{cfg: cfg}
	t := model.NewTensors(f)
	// Llama 3.1+ files carry per-pair RoPE frequency divisors.
	freqFactors, _ := t.OptionalVector("rope_freqs.weight", cfg.RopeDims/2)
	if err := t.Err(); err != nil {
		return nil, err
	}
	if m.rope, err = tensor.NewRoPE(cfg.RoPE(freqFactors)); err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	if err := m.bindTensors(t); err != nil {
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
	var ok bool
	if m.output, ok = t.OptionalMatrix("output.weight", E, V); !ok {
		m.output = m.tokEmbd // tied embeddings
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

// Forward runs the batch through the network: embedding; per layer,
// RoPE attention and SwiGLU MLP, each behind an RMSNorm and a residual;
// final norm and LM head for the requested rows.
func (m *Model) Forward(ws *model.Workspace, spans []model.Span, logits []float32) error {
	if err := ws.Begin(m.cfg, spans, logits, m.rope); err != nil {
		return err
	}
	if err := ws.Embed(m.tokEmbd); err != nil {
		return err
	}
	for il := range m.blocks {
		b := &m.blocks[il]
		if err := ws.Attention(il, b, true); err != nil {
			return err
		}
		if err := ws.FeedForward(il, b); err != nil {
			return err
		}
	}
	return ws.Output(m.outputNorm, m.output, logits)
}
