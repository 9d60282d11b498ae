// Package sample picks the next token from a model's logits. It knows
// nothing about models: a Chain takes []float32 logits (one per vocabulary
// entry) and returns a token id.
//
// The chain follows llama.cpp's default order (spec §7.1): penalties →
// top-k → top-p → min-p → temperature → dist, where dist draws from the
// remaining candidates with a seeded PCG generator (math/rand/v2), so a run
// is reproducible from its seed. A temperature ≤ 0 means greedy decoding:
// the argmax of the penalized logits, the lowest id winning ties. The RNG
// differs from llama.cpp's mt19937, so sampled (non-greedy) token streams
// match llama.cpp in distribution, not token for token.
package sample

import (
	"errors"
	"fmt"
	"math"
)

// RandomSeed asks New to seed the generator from a random source, as
// llama.cpp does for its default seed (LLAMA_DEFAULT_SEED = 0xFFFFFFFF).
const RandomSeed uint64 = 0xFFFFFFFF

// maxLastN bounds RepeatLastN; the history is scanned linearly per token.
const maxLastN = 1 << 16

// Params configures a Chain. The zero value is greedy decoding without
// penalties; Defaults gives SmolLM3's recommended sampling.
type Params struct {
	// Temperature divides the logits before the final draw; ≤ 0 is greedy.
	Temperature float32
	// TopK keeps the K most likely tokens; ≤ 0 (or ≥ vocabulary) keeps all.
	TopK int
	// TopP keeps the smallest most-likely set whose probability reaches P
	// (probabilities after top-k, before temperature); ≥ 1 keeps all, ≤ 0
	// keeps only the most likely token (as in llama.cpp).
	TopP float32
	// MinP drops tokens whose probability is below MinP times the most
	// likely one's (logit < max + ln MinP); ≤ 0 keeps all.
	MinP float32
	// RepeatPenalty divides positive and multiplies non-positive logits of
	// tokens seen in the last RepeatLastN tokens; 1 is off. Must be > 0.
	RepeatPenalty float32
	// PresencePenalty is subtracted once from a seen token's logit.
	PresencePenalty float32
	// FrequencyPenalty is subtracted once per occurrence in the window.
	FrequencyPenalty float32
	// RepeatLastN is the penalty window in tokens; 0 turns penalties off.
	// llama.cpp's -1 ("the whole context") must be resolved by the caller.
	RepeatLastN int
	// Seed seeds the generator; RandomSeed picks a random one.
	Seed uint64
}

// Defaults returns SmolLM3's recommended sampling (temperature 0.6, top-p
// 0.95, from the model card) with llama.cpp's other defaults: top-k 40,
// min-p 0.05, repeat penalty 1 (off) over 64 tokens, random seed (spec §7.1).
func Defaults() Params {
	return Params{
		Temperature:   0.6,
		TopK:          40,
		TopP:          0.95,
		MinP:          0.05,
		RepeatPenalty: 1,
		RepeatLastN:   64,
		Seed:          RandomSeed,
	}
}

// GGUF metadata keys for per-model sampling defaults, written by llama.cpp's
// converter from generation_config.json (gguf-py Keys.General.SAMPLING_*).
const (
	KeyTemp          = "general.sampling.temp"
	KeyTopK          = "general.sampling.top_k"
	KeyTopP          = "general.sampling.top_p"
	KeyMinP          = "general.sampling.min_p"
	KeyPenaltyLastN  = "general.sampling.penalty_last_n"
	KeyPenaltyRepeat = "general.sampling.penalty_repeat"
)

// FromMetadata returns Defaults overridden by the general.sampling.* values
// a model file carries, as llama.cpp does for parameters the user did not
// set. lookup returns a key's numeric value and whether it is present; with
// the gguf package:
//
//	p := sample.FromMetadata(func(k string) (float64, bool) {
//		v, ok := f.Get(k)
//		if !ok {
//			return 0, false
//		}
//		return v.AsFloat()
//	})
//
// Non-finite values are ignored. Apply the user's own settings afterwards.
func FromMetadata(lookup func(key string) (float64, bool)) Params {
	p := Defaults()
	get := func(k string) (float64, bool) {
		v, ok := lookup(k)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false
		}
		return v, true
	}
	if v, ok := get(KeyTemp); ok {
		p.Temperature = float32(v)
	}
	if v, ok := get(KeyTopK); ok && v >= math.MinInt32 && v <= math.MaxInt32 {
		p.TopK = int(v)
	}
	if v, ok := get(KeyTopP); ok {
		p.TopP = float32(v)
	}
	if v, ok := get(KeyMinP); ok {
		p.MinP = float32(v)
	}
	if v, ok := get(KeyPenaltyLastN); ok && v >= math.MinInt32 && v <= math.MaxInt32 {
		p.RepeatLastN = int(v)
	}
	if v, ok := get(KeyPenaltyRepeat); ok {
		p.RepeatPenalty = float32(v)
	}
	return p
}

// Validate reports parameters a Chain cannot use.
func (p Params) Validate() error {
	finite := func(name string, v float32) error {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("sample: %s is %v", name, v)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float32
	}{{"temperature", p.Temperature}, {"top_p", p.TopP}, {"min_p", p.MinP},
		{"repeat_penalty", p.RepeatPenalty}, {"presence_penalty", p.PresencePenalty},
		{"frequency_penalty", p.FrequencyPenalty}} {
		if err := finite(f.name, f.v); err != nil {
			return err
		}
	}
	if p.RepeatLastN < 0 {
		return errors.New("sample: repeat_last_n < 0 (resolve -1 to the context size first)")
	}
	if p.RepeatLastN > maxLastN {
		return fmt.Errorf("sample: repeat_last_n %d exceeds %d", p.RepeatLastN, maxLastN)
	}
	if p.penaltiesOn() && p.RepeatPenalty <= 0 {
		return fmt.Errorf("sample: repeat_penalty %v must be > 0", p.RepeatPenalty)
	}
	return nil
}

// penaltiesOn mirrors llama.cpp: no window, or all penalties neutral, is off.
func (p Params) penaltiesOn() bool {
	return p.RepeatLastN != 0 &&
		(p.RepeatPenalty != 1 || p.FrequencyPenalty != 0 || p.PresencePenalty != 0)
}
