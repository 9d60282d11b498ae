package tokenizer

import (
	"math"

	"github.com/smolbot/smolbot/gguf"
)

// GGUF metadata keys read by FromGGUF.
const (
	ggufPrefix         = "tokenizer.ggml."
	ggufModel          = ggufPrefix + "model"
	ggufPre            = ggufPrefix + "pre"
	ggufTokens         = ggufPrefix + "tokens"
	ggufTokenType      = ggufPrefix + "token_type"
	ggufScores         = ggufPrefix + "scores"
	ggufMerges         = ggufPrefix + "merges"
	ggufAddBOS         = ggufPrefix + "add_bos_token"
	ggufAddEOS         = ggufPrefix + "add_eos_token"
	ggufAddSpacePrefix = ggufPrefix + "add_space_prefix"
)

// VocabFromGGUF reads the tokenizer.ggml.* keys of a GGUF file into a Vocab.
// Keys of the wrong type are errors; absent optional keys are left unset.
func VocabFromGGUF(f *gguf.File) (*Vocab, error) {
	v := &Vocab{IDs: map[string]uint32{}}
	if !f.Has(ggufModel) {
		return nil, vocabErr("missing %s", ggufModel)
	}
	v.Model = f.String(ggufModel, "\x00")
	if v.Model == "\x00" {
		return nil, vocabErr("%s is not a string", ggufModel)
	}
	if f.Has(ggufPre) {
		v.Pre = f.String(ggufPre, "\x00")
		if v.Pre == "\x00" {
			return nil, vocabErr("%s is not a string", ggufPre)
		}
	}

	var ok bool
	if v.Tokens, ok = f.Strings(ggufTokens); !ok {
		return nil, vocabErr("missing or non-string-array %s", ggufTokens)
	}
	if f.Has(ggufTokenType) {
		raw, ok := f.Int32s(ggufTokenType)
		if !ok {
			return nil, vocabErr("%s is not an integer array", ggufTokenType)
		}
		v.Types = make([]TokenType, len(raw))
		for i, x := range raw {
			v.Types[i] = TokenType(x)
		}
	}
	if f.Has(ggufScores) {
		if v.Scores, ok = f.Float32s(ggufScores); !ok {
			return nil, vocabErr("%s is not a number array", ggufScores)
		}
	}
	if f.Has(ggufMerges) {
		if v.Merges, ok = f.Strings(ggufMerges); !ok {
			return nil, vocabErr("%s is not a string array", ggufMerges)
		}
	}
	for _, k := range idKeys {
		key := ggufPrefix + k
		if !f.Has(key) {
			continue
		}
		// Uint returns its default for non-integers and negatives; -1 is
		// written by some converters for "none", which unsetID also means.
		const bad = math.MaxUint64
		x := f.Uint(key, bad)
		if x == bad {
			if f.Int(key, 0) == -1 {
				x = unsetID
			} else {
				return nil, vocabErr("%s is not a token id", key)
			}
		}
		if x > math.MaxUint32 {
			return nil, vocabErr("%s = %d is not a token id", key, x)
		}
		v.IDs[k] = uint32(x)
	}
	for key, dst := range map[string]**bool{ggufAddBOS: &v.AddBOS, ggufAddEOS: &v.AddEOS, ggufAddSpacePrefix: &v.AddSpacePrefix} {
		if !f.Has(key) {
			continue
		}
		b1, b2 := f.Bool(key, false), f.Bool(key, true)
		if b1 != b2 {
			return nil, vocabErr("%s is not a bool", key)
		}
		*dst = &b1
	}
	return v, nil
}

// FromGGUF builds the Tokenizer of a GGUF file's vocabulary. The file may be
// closed afterwards.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := VocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	return New(v)
}
