// Package scriptmodel writes tiny SmolLM3 GGUF files whose output is a fixed
// script, so that tests of the server can run the real engine end to end
// and still know exactly what the model will say: a thinking block, an
// answer, an end-of-turn token.
//
// The trick is a network that only ever looks at the current token. Every
// attention and feed-forward output weight is zero, so the residual stream
// at the last layer is the token's embedding. Each token of the script gets
// its own one-hot embedding dimension, and an untied output.weight maps
// that dimension to the id of the script's next token with a logit of
// sqrt(n_embd) (the RMS norm of a one-hot vector), against 0 for every
// other token. Greedy decoding, and SmolLM3's default sampling too (the
// others are cut by min-p), therefore follows the chain
//
//	"\n" → <think> → thinking… → </think> → answer… → <|im_end|>
//
// starting from the newline that ends every SmolLM3 generation prompt.
// Because the next token depends on the current token only, each token may
// appear once in the script: thinking and answer are made of distinct
// characters (see Distinct).
package scriptmodel

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/tokenizer"
)

// Script is what the model says after any prompt.
type Script struct {
	// Thinking is the text inside <think>…</think>; empty means no think
	// block.
	Thinking string
	// Answer is the text after the think block.
	Answer string
	// Loop makes the answer start over instead of ending with <|im_end|>,
	// so generation only stops at max tokens, the context limit or
	// cancellation.
	Loop bool
}

// Write makes a one-layer SmolLM3 model following s at path. base is a
// SmolLM3 GGUF whose hyperparameters and byte-level vocabulary are reused
// (the tiny-smollm3 fixture); templateFrom is a GGUF whose chat template is
// copied in ("" keeps base's).
func Write(path, base, templateFrom string, s Script) error {
	bf, err := gguf.Open(base)
	if err != nil {
		return err
	}
	defer bf.Close()
	tok, err := tokenizer.FromGGUF(bf)
	if err != nil {
		return err
	}
	arch := bf.String("general.architecture", "")
	embd := int(bf.Uint(arch+".embedding_length", 0))
	ffn := int(bf.Uint(arch+".feed_forward_length", 0))
	heads := int(bf.Uint(arch+".attention.head_count", 0))
	kvHeads := int(bf.Uint(arch+".attention.head_count_kv", uint64(heads)))
	vocab := tok.NumTokens()
	if embd == 0 || ffn == 0 || heads == 0 {
		return fmt.Errorf("scriptmodel: %s lacks %s hyperparameters", base, arch)
	}
	headDim := embd / heads

	chain, loopTo, err := chainOf(tok, s)
	if err != nil {
		return err
	}
	if len(chain) > embd {
		return fmt.Errorf("scriptmodel: script of %d tokens needs more than %d embedding dimensions", len(chain), embd)
	}

	kv := make([]gguf.KV, 0, len(bf.KV)+2)
	for _, p := range bf.KV {
		switch p.Key {
		case arch + ".block_count", "general.name", "tokenizer.chat_template":
			continue
		}
		kv = append(kv, p)
	}
	kv = append(kv,
		gguf.KV{Key: arch + ".block_count", Value: gguf.MustValue(uint32(1))},
		gguf.KV{Key: "general.name", Value: gguf.MustValue("scripted-smollm3")},
	)
	tmplSrc := bf.String("tokenizer.chat_template", "")
	if templateFrom != "" {
		tf, err := gguf.Open(templateFrom)
		if err != nil {
			return err
		}
		tmplSrc = tf.String("tokenizer.chat_template", "")
		tf.Close()
	}
	if tmplSrc != "" {
		kv = append(kv, gguf.KV{Key: "tokenizer.chat_template", Value: gguf.MustValue(tmplSrc)})
	}

	// Weights, all F32. embedding: token chain[i] → e_i. output: row
	// chain[i+1] has a 1 in column i.
	tokEmbd := make([]float32, embd*vocab)
	output := make([]float32, embd*vocab)
	for i, id := range chain {
		tokEmbd[int(id)*embd+i] = 1
		switch {
		case i+1 < len(chain):
			output[int(chain[i+1])*embd+i] = 1
		case loopTo >= 0:
			output[int(chain[loopTo])*embd+i] = 1
		}
	}
	ones := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	zeros := func(n int) []float32 { return make([]float32, n) }
	type tensor struct {
		name string
		dims []int64
		data []float32
	}
	q, kvw := heads*headDim, kvHeads*headDim
	tensors := []tensor{
		{"token_embd.weight", []int64{int64(embd), int64(vocab)}, tokEmbd},
		{"output_norm.weight", []int64{int64(embd)}, ones(embd)},
		{"output.weight", []int64{int64(embd), int64(vocab)}, output},
		{"blk.0.attn_norm.weight", []int64{int64(embd)}, ones(embd)},
		{"blk.0.attn_q.weight", []int64{int64(embd), int64(q)}, zeros(embd * q)},
		{"blk.0.attn_k.weight", []int64{int64(embd), int64(kvw)}, zeros(embd * kvw)},
		{"blk.0.attn_v.weight", []int64{int64(embd), int64(kvw)}, zeros(embd * kvw)},
		{"blk.0.attn_output.weight", []int64{int64(q), int64(embd)}, zeros(q * embd)},
		{"blk.0.ffn_norm.weight", []int64{int64(embd)}, ones(embd)},
		{"blk.0.ffn_gate.weight", []int64{int64(embd), int64(ffn)}, zeros(embd * ffn)},
		{"blk.0.ffn_up.weight", []int64{int64(embd), int64(ffn)}, zeros(embd * ffn)},
		{"blk.0.ffn_down.weight", []int64{int64(ffn), int64(embd)}, zeros(ffn * embd)},
	}
	specs := make([]gguf.TensorSpec, len(tensors))
	for i, t := range tensors {
		specs[i] = gguf.TensorSpec{Name: t.name, Dims: t.dims, Type: quant.F32}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := gguf.NewWriter(bw, kv, specs)
	if err != nil {
		f.Close()
		return err
	}
	for _, t := range tensors {
		buf := make([]byte, 4*len(t.data))
		for i, v := range t.data {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if err := w.WriteTensor(t.name, buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// chainOf returns the token ids of the script, starting with the newline
// that ends the generation prompt, and for a looping script the index the
// last token leads back to (else -1).
func chainOf(tok *tokenizer.Tokenizer, s Script) (chain []int32, loopTo int, err error) {
	add := func(text string, special bool) error {
		ids := tok.Encode(text, special)
		if len(ids) != 1 {
			return fmt.Errorf("scriptmodel: %q is %d tokens, not one", text, len(ids))
		}
		chain = append(chain, ids[0])
		return nil
	}
	addText := func(text string) error {
		for _, r := range text {
			if err := add(string(r), false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add("\n", false); err != nil {
		return nil, -1, err
	}
	if s.Thinking != "" {
		if err := errorsJoin(add("<think>", true), addText(s.Thinking), add("</think>", true)); err != nil {
			return nil, -1, err
		}
	}
	answerStart := len(chain)
	if err := addText(s.Answer); err != nil {
		return nil, -1, err
	}
	loopTo = -1
	if s.Loop {
		if len(chain) == answerStart {
			return nil, -1, fmt.Errorf("scriptmodel: a looping script needs an answer")
		}
		loopTo = answerStart
	} else if err := add("<|im_end|>", true); err != nil {
		return nil, -1, err
	}
	seen := map[int32]bool{}
	for _, id := range chain {
		if seen[id] {
			return nil, -1, fmt.Errorf("scriptmodel: token %q appears twice in the script (each token may appear once)", tok.Decode([]int32{id}))
		}
		seen[id] = true
	}
	return chain, loopTo, nil
}

func errorsJoin(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Distinct returns n characters for a script that appear nowhere in used:
// letters and digits first, so the text reads as words rather than
// markdown.
func Distinct(n int, used string) string {
	const pool = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789,;:=@$%'"
	var b strings.Builder
	for _, r := range pool {
		if b.Len() >= n {
			break
		}
		if !strings.ContainsRune(used, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
