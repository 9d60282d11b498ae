package model_test

import (
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

// TestDecodeSpanMatchesOneByOne: a Decode span of several tokens (a
// speculative draft being verified), alone or behind a prompt span in the
// same pass, gives bit for bit the logits of feeding its tokens one at a
// time — for every fixture weight type and KV cache type. This is what
// makes speculative decoding output exactly the plain greedy output.
func TestDecodeSpanMatchesOneByOne(t *testing.T) {
	for _, fm := range fixtureModels {
		for _, kv := range []quant.Type{quant.F16, quant.F32} {
			t.Run(fm.dir+"/"+fm.typ+"/"+kv.String(), func(t *testing.T) {
				l := openModel(t, testutil.Fixture(t, fm.dir, modelFile(fm.dir, fm.typ)), 2, 64)
				cfg := l.m.Config()
				V := cfg.Vocab
				prefix := []int32{5, 17, 200 % int32(V), 33, 91 % int32(V), 4, 60 % int32(V)}
				draft := []int32{7, 12, 250 % int32(V), 3, 9, 44 % int32(V)}
				newCache := func() *kvcache.Cache {
					c, err := model.NewCache(cfg, 128, kv)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
				fwd := func(spans []model.Span, out []float32) {
					t.Helper()
					if err := l.m.Forward(l.ws, spans, out); err != nil {
						t.Fatal(err)
					}
				}
				// One at a time.
				ref := newCache()
				fwd([]model.Span{{Cache: ref, Tokens: prefix, Logits: model.LogitsNone}}, nil)
				want := make([]float32, len(draft)*V)
				for i, tk := range draft {
					fwd([]model.Span{{Cache: ref, Tokens: []int32{tk}, Logits: model.LogitsLast, Decode: true}}, want[i*V:(i+1)*V])
				}
				// The draft as one Decode span, alone and behind a prompt.
				for _, withPrompt := range []bool{false, true} {
					c := newCache()
					fwd([]model.Span{{Cache: c, Tokens: prefix, Logits: model.LogitsNone}}, nil)
					spans := []model.Span{{Cache: c, Tokens: draft, Logits: model.LogitsAll, Decode: true}}
					got := make([]float32, len(draft)*V)
					out := got
					if withPrompt {
						other := newCache()
						spans = append([]model.Span{{Cache: other, Tokens: []int32{8, 9, 10, 11, 12}, Logits: model.LogitsLast}}, spans...)
						out = make([]float32, (1+len(draft))*V)
					}
					fwd(spans, out)
					if withPrompt {
						copy(got, out[V:])
					}
					if !bitEqual(got, want) {
						d, _ := maxAbsDiff(got, want)
						t.Errorf("prompt in the pass %v: draft logits differ from one-by-one decoding (max|Δ| %.3g)", withPrompt, d)
					}
				}
			})
		}
	}
}
