package model_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

// benchModel opens $SMOLBOT_BENCH_MODEL (e.g. a `smolbot synth --preset 3b`
// file), or the tiny SmolLM3 fixture.
func benchModel(b *testing.B, maxTokens int) *loaded {
	path := os.Getenv("SMOLBOT_BENCH_MODEL")
	if path == "" {
		return openModel(b, fixturePath(b, "tiny-smollm3", "q4_k_m.gguf"), 2, maxTokens)
	}
	return openModel(b, path, 2, maxTokens)
}

// BenchmarkDecode measures one-token decode steps at a context of 256.
func BenchmarkDecode(b *testing.B) {
	l := benchModel(b, 256)
	c, err := model.NewCache(l.m.Config(), 4096, quant.F16)
	if err != nil {
		b.Fatal(err)
	}
	logits := make([]float32, l.m.Config().Vocab)
	toks := seqTokens(256)
	if err := l.m.Forward(l.ws, []model.Span{{Cache: c, Tokens: toks, Logits: model.LogitsLast}}, logits); err != nil {
		b.Fatal(err)
	}
	span := []model.Span{{Cache: c, Tokens: []int32{7}, Logits: model.LogitsLast}}
	for b.Loop() {
		c.Truncate(256)
		if err := l.m.Forward(l.ws, span, logits); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkPrefill measures a 256-token prompt.
func BenchmarkPrefill(b *testing.B) {
	l := benchModel(b, 256)
	c, err := model.NewCache(l.m.Config(), 4096, quant.F16)
	if err != nil {
		b.Fatal(err)
	}
	logits := make([]float32, l.m.Config().Vocab)
	span := []model.Span{{Cache: c, Tokens: seqTokens(256), Logits: model.LogitsLast}}
	for b.Loop() {
		c.Reset()
		if err := l.m.Forward(l.ws, span, logits); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(256*b.N)/b.Elapsed().Seconds(), "tok/s")
}

func fixturePath(b *testing.B, dir, file string) string {
	return testutil.Fixture(b, dir, file)
}

// BenchmarkDecodeBatch measures forward passes of n tokens with logits for
// every token (a speculative decoding step: the sampled token and its
// draft) at a context of 256; ms/pass against n shows how much a draft
// token costs beyond the weight reads a single token already pays.
func BenchmarkDecodeBatch(b *testing.B) {
	l := benchModel(b, 256)
	c, err := model.NewCache(l.m.Config(), 4096, quant.F16)
	if err != nil {
		b.Fatal(err)
	}
	V := l.m.Config().Vocab
	if err := l.m.Forward(l.ws, []model.Span{{Cache: c, Tokens: seqTokens(256), Logits: model.LogitsLast}}, make([]float32, V)); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 4, 6, 8} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			logits := make([]float32, n*V)
			span := []model.Span{{Cache: c, Tokens: seqTokens(n), Logits: model.LogitsAll}}
			for b.Loop() {
				c.Truncate(256)
				if err := l.m.Forward(l.ws, span, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/pass")
		})
	}
}
