// Package tokenizer turns text into token ids and back, matching llama.cpp's
// tokenizer for GGUF vocabularies (spec §5).
//
// Two vocabulary models are supported:
//
//   - "gpt2": byte-level BPE (SmolLM3, Llama-3). Text is split at special
//     tokens, pre-tokenized with the regex named by tokenizer.ggml.pre, mapped
//     byte by byte to printable code points, and merged by rank.
//   - "llama": SentencePiece (Llama-2 style, e.g. stories260K). Spaces become
//     U+2581, a leading space is added, pieces merge by score, and characters
//     missing from the vocabulary fall back to <0xXX> byte tokens.
//
// A Tokenizer is immutable after construction and safe for concurrent use.
// Encode never adds BOS; see Tokenize and AddBOS for llama.cpp's policy.
//
// Supported pre-tokenizer tags (tokenizer.ggml.pre) and what they select:
//
//   - smaug-bpe, dbrx: the Llama-3 regex, merges always applied, no BOS
//     (SmolLM3).
//   - llama3, llama-v3, llama-bpe and aliases: the Llama-3 regex, a word that
//     is itself a token skips merging (ignore_merges), BOS added.
//   - smollm, command-r, starcoder, refact, codeshell, exaone, minerva-7b,
//     mellum2: every \p{N} code point alone, then the GPT-2 regex (SmolLM2).
//   - gpt-2, phi-2, mpt, olmo, jais and aliases: the GPT-2 regex.
//   - "" and default: llama.cpp's fallback list of four regexes.
//
// Other tags are rejected. Known differences from llama.cpp, none of which
// shows on the SmolLM3 or Llama-3 vocabularies with ordinary text:
//
//   - Letters and numbers come from Go's Unicode tables, which can differ
//     from llama.cpp's generated tables on code points assigned in a newer
//     Unicode edition than Go's.
//   - A 4-byte sequence decoding above U+10FFFF becomes U+FFFD per byte
//     (llama.cpp throws); a SentencePiece byte without any byte token becomes
//     UNK (llama.cpp throws).
//   - Special tokens of equal length are tried in id order (llama.cpp's sort
//     is unstable), and EOT/EOM/FIM tokens found by text take the first
//     candidate in llama.cpp's list order (llama.cpp: hash-map order).
//   - The per-model LSTRIP/RSTRIP attributes llama.cpp sets by model name
//     (phi-3, jina, modern-bert) are not applied.
package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// TokenType is a vocabulary entry's type, as stored in
// tokenizer.ggml.token_type (llama_token_type).
type TokenType int32

// The token types of the GGUF format.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// String returns the llama.cpp name of the type.
func (t TokenType) String() string {
	switch t {
	case TypeUndefined:
		return "UNDEFINED"
	case TypeNormal:
		return "NORMAL"
	case TypeUnknown:
		return "UNKNOWN"
	case TypeControl:
		return "CONTROL"
	case TypeUserDefined:
		return "USER_DEFINED"
	case TypeUnused:
		return "UNUSED"
	case TypeByte:
		return "BYTE"
	}
	return fmt.Sprintf("TokenType(%d)", int32(t))
}

// attr is llama.cpp's token attribute bit set (llama_token_attr). Types map
// to one bit each at load; load-time fix-ups may add CONTROL or UNUSED.
type attr uint8

const (
	attrUnknown attr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
)

func attrOf(t TokenType) attr {
	switch t {
	case TypeNormal:
		return attrNormal
	case TypeUnknown:
		return attrUnknown
	case TypeControl:
		return attrControl
	case TypeUserDefined:
		return attrUserDefined
	case TypeUnused:
		return attrUnused
	case TypeByte:
		return attrByte
	}
	return 0
}

// Keys of Vocab.IDs: the tokenizer.ggml.* special-token id keys, without the
// "tokenizer.ggml." prefix. The misspelling of the separator key is the
// format's.
const (
	KeyBOS    = "bos_token_id"
	KeyEOS    = "eos_token_id"
	KeyEOT    = "eot_token_id"
	KeyEOM    = "eom_token_id"
	KeyUNK    = "unknown_token_id"
	KeySEP    = "seperator_token_id"
	KeyPAD    = "padding_token_id"
	KeyMask   = "mask_token_id"
	KeyFIMPre = "fim_pre_token_id"
	KeyFIMSuf = "fim_suf_token_id"
	KeyFIMMid = "fim_mid_token_id"
	KeyFIMPad = "fim_pad_token_id"
	KeyFIMRep = "fim_rep_token_id"
	KeyFIMSep = "fim_sep_token_id"
	// Deprecated spellings of the FIM keys, still read by llama.cpp.
	KeyPrefix = "prefix_token_id"
	KeySuffix = "suffix_token_id"
	KeyMiddle = "middle_token_id"
)

// idKeys lists the id keys in llama.cpp's reading order (later keys may
// overwrite earlier ones: the deprecated FIM keys come last).
var idKeys = []string{KeyBOS, KeyEOS, KeyEOT, KeyEOM, KeyUNK, KeySEP, KeyPAD, KeyMask,
	KeyFIMPre, KeyFIMSuf, KeyFIMMid, KeyFIMPad, KeyFIMRep, KeyFIMSep, KeyPrefix, KeySuffix, KeyMiddle}

// NoToken is the id that means "no such token" (LLAMA_TOKEN_NULL).
const NoToken int32 = -1

// unsetID is the u32 value converters write for "no token" (-1 as u32).
const unsetID = math.MaxUint32

// Vocab is a vocabulary as a GGUF file stores it (the tokenizer.ggml.* keys).
// FromGGUF fills it from a file; tests and tools may build one by hand.
type Vocab struct {
	// Model is tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama"
	// (SentencePiece).
	Model string
	// Pre is tokenizer.ggml.pre, the pre-tokenizer tag of a "gpt2" model
	// ("smaug-bpe", "llama-bpe", "smollm", "gpt-2", "default", ...). Empty
	// means llama.cpp's default regex list.
	Pre string
	// Tokens are the token texts; the index is the id. Required.
	Tokens []string
	// Types are the token types, one per token; nil means all NORMAL.
	Types []TokenType
	// Scores are the SentencePiece merge scores, one per token; nil means 0.
	Scores []float32
	// Merges are the BPE merges "left right", rank = index. Required for
	// "gpt2".
	Merges []string
	// IDs holds the special-token id keys present in the file (KeyBOS, ...).
	// Absent keys take llama.cpp's per-model defaults. The value 0xFFFFFFFF
	// means "none" and also keeps the default, as in llama.cpp.
	IDs map[string]uint32
	// AddBOS, AddEOS and AddSpacePrefix are tokenizer.ggml.add_bos_token,
	// add_eos_token and add_space_prefix; nil when the file lacks the key.
	AddBOS, AddEOS, AddSpacePrefix *bool
}

type modelKind uint8

const (
	modelBPE modelKind = iota
	modelSPM
)

// preConfig is what a pre-tokenizer tag implies (llama_vocab::impl::load).
type preConfig struct {
	kind         preKind
	ignoreMerges bool // use a whole word that is a token without merging
	addBOS       bool
	cleanSpaces  bool // Detokenize tidies spaces before punctuation
}

// preTags lists the supported tokenizer.ggml.pre values of "gpt2" models.
var preTags = func() map[string]preConfig {
	m := map[string]preConfig{}
	add := func(c preConfig, tags ...string) {
		for _, t := range tags {
			m[t] = c
		}
	}
	add(preConfig{kind: preDefault, cleanSpaces: true}, "", "default")
	add(preConfig{kind: preLlama3, ignoreMerges: true, addBOS: true, cleanSpaces: true},
		"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano")
	add(preConfig{kind: preLlama3, cleanSpaces: true}, "smaug-bpe", "dbrx")
	add(preConfig{kind: preGPT2, cleanSpaces: true},
		"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
		"mellum", "modern-bert", "exaone4", "mpt", "olmo", "jais")
	add(preConfig{kind: preGPT2}, "trillion", "granite-docling")
	add(preConfig{kind: preDigitsGPT2, cleanSpaces: true},
		"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2")
	add(preConfig{kind: preDigitsGPT2}, "smollm", "command-r")
	return m
}()

// Tokenizer encodes and decodes text with one vocabulary.
type Tokenizer struct {
	model  modelKind
	pre    preConfig
	preTag string

	tokens []string
	types  []TokenType
	attrs  []attr
	scores []float32
	index  map[string]int32 // text → id

	bpe *bpeModel // "gpt2" only

	byteTok [256]int32 // SPM: <0xXX> (or the single byte) token per byte

	addBOS, addEOS, addSpacePrefix bool

	ids      map[string]int32 // resolved special ids by key
	specials Specials
	eog      []int32 // sorted

	// Special-token partition (spec §5.4).
	specialOrder []int32 // CONTROL/USER_DEFINED/UNKNOWN ids, longest text first
	specialTrie  trie    // value = index into specialOrder

	// Piece cache (llama.cpp renders every token with special = true once).
	pieces   []byte
	pieceEnd []uint32

	scratch sync.Pool

	noWordCache bool // benchmarks measure the merge loop itself
}

// Specials holds ids of well-known tokens, NoToken where absent. The chat
// markers are resolved by their text, never hard-coded (spec §5.5).
type Specials struct {
	// BOS, EOS, UNK, SEP, PAD and Mask come from the tokenizer.ggml.*_id
	// keys, or llama.cpp's per-model defaults when a key is absent.
	BOS, EOS, UNK, SEP, PAD, Mask int32
	// EOT and EOM come from their keys or, failing that, from the first
	// known marker text in the vocabulary (<|eot_id|>, <|im_end|>, ... and
	// <|eom_id|>). llama.cpp's choice among several candidates depends on
	// hash-map order; it does not matter, because all of them are EOG.
	EOT, EOM int32
	// FIM* are the fill-in-the-middle markers, by key or by text.
	FIMPre, FIMSuf, FIMMid, FIMPad, FIMRep, FIMSep int32
	// ImStart and ImEnd are <|im_start|> and <|im_end|>.
	ImStart, ImEnd int32
	// Think and EndThink are <think> and </think>.
	Think, EndThink int32
}

// ErrVocab is wrapped by every error about an invalid vocabulary.
var ErrVocab = errors.New("tokenizer: invalid vocabulary")

func vocabErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVocab, fmt.Sprintf(format, args...))
}

// maxTokens bounds the vocabulary size so that ids fit int32 with room for
// the BPE symbol ids that are not tokens.
const maxTokens = 1 << 28

// New validates v and builds a Tokenizer. v's slices are retained, not
// copied; the caller must not modify them afterwards.
func New(v *Vocab) (*Tokenizer, error) {
	if v == nil {
		return nil, vocabErr("nil Vocab")
	}
	t := &Tokenizer{}
	switch v.Model {
	case "gpt2":
		t.model = modelBPE
		c, ok := preTags[v.Pre]
		if !ok {
			return nil, vocabErr("unsupported pre-tokenizer %q", v.Pre)
		}
		t.pre, t.preTag = c, v.Pre
	case "llama":
		t.model = modelSPM
		t.addSpacePrefix = true
		t.pre.addBOS = true
	default:
		return nil, vocabErr("unsupported tokenizer model %q", v.Model)
	}
	n := len(v.Tokens)
	if n == 0 {
		return nil, vocabErr("no tokens")
	}
	if n > maxTokens {
		return nil, vocabErr("%d tokens exceed the limit of %d", n, maxTokens)
	}
	if v.Types != nil && len(v.Types) != n {
		return nil, vocabErr("%d token types for %d tokens", len(v.Types), n)
	}
	if v.Scores != nil && len(v.Scores) != n {
		return nil, vocabErr("%d scores for %d tokens", len(v.Scores), n)
	}

	t.tokens = make([]string, n)
	t.types = make([]TokenType, n)
	t.attrs = make([]attr, n)
	t.scores = v.Scores
	if t.scores == nil {
		t.scores = make([]float32, n)
	}
	t.index = make(map[string]int32, n)
	for i, s := range v.Tokens {
		if s == "" {
			// llama.cpp renames empty entries so they stay unique.
			s = fmt.Sprintf("[EMPTY_%d]", i)
		}
		if j, dup := t.index[s]; dup {
			return nil, vocabErr("duplicate token %q at ids %d and %d", s, j, i)
		}
		t.index[s] = int32(i)
		t.tokens[i] = s
		typ := TypeNormal
		if v.Types != nil {
			typ = v.Types[i]
			if typ < TypeUndefined || typ > TypeByte {
				return nil, vocabErr("token %d: unknown token type %d", i, int32(typ))
			}
		}
		t.types[i] = typ
		t.attrs[i] = attrOf(typ)
		if typ == TypeByte {
			if _, ok := parseByteToken(s); !ok {
				return nil, vocabErr("token %d: byte token %q is not of the form <0xXX>", i, s)
			}
		}
	}

	if err := t.loadSpecialIDs(v); err != nil {
		return nil, err
	}

	switch t.model {
	case modelBPE:
		if v.Merges == nil {
			return nil, vocabErr("byte-level BPE vocabulary has no merges")
		}
		b, err := newBPEModel(t.tokens, t.index, v.Merges)
		if err != nil {
			return nil, err
		}
		t.bpe = b
	case modelSPM:
		for b := range 256 {
			t.byteTok[b] = t.spmByteToken(byte(b))
		}
	}

	t.detectSpecials()
	t.buildSpecialCache()
	t.buildPieces()
	t.scratch.New = func() any { return new(scratch) }
	return t, nil
}

// loadSpecialIDs applies llama.cpp's defaults, then the file's keys, then the
// add_* flags.
func (t *Tokenizer) loadSpecialIDs(v *Vocab) error {
	n := uint32(len(t.tokens))
	ids := map[string]int32{}
	for _, k := range idKeys {
		ids[k] = NoToken
	}
	if t.model == modelBPE {
		ids[KeyBOS], ids[KeyEOS] = 11, 11
	} else {
		ids[KeyBOS], ids[KeyEOS], ids[KeyUNK] = 1, 2, 0
	}
	for k, id := range ids {
		if id >= 0 && uint32(id) >= n {
			ids[k] = NoToken // a default outside a small vocabulary
		}
	}
	for k := range v.IDs {
		if _, ok := ids[k]; !ok {
			return vocabErr("unknown special-token key %q", k)
		}
	}
	for _, k := range idKeys {
		id, ok := v.IDs[k]
		if !ok || id == unsetID {
			continue
		}
		if id >= n {
			return vocabErr("%s = %d is outside the vocabulary of %d tokens", k, id, n)
		}
		switch k {
		case KeyPrefix:
			ids[KeyFIMPre] = int32(id)
		case KeySuffix:
			ids[KeyFIMSuf] = int32(id)
		case KeyMiddle:
			ids[KeyFIMMid] = int32(id)
		default:
			ids[k] = int32(id)
		}
	}
	delete(ids, KeyPrefix)
	delete(ids, KeySuffix)
	delete(ids, KeyMiddle)
	t.ids = ids

	t.addBOS = t.pre.addBOS
	if v.AddBOS != nil {
		t.addBOS = *v.AddBOS
	}
	if v.AddEOS != nil {
		t.addEOS = *v.AddEOS
	}
	if v.AddSpacePrefix != nil {
		t.addSpacePrefix = *v.AddSpacePrefix
	}
	if t.addBOS && ids[KeyBOS] == NoToken {
		return vocabErr("add_bos_token is true, but there is no BOS token")
	}
	if t.addEOS && ids[KeyEOS] == NoToken {
		return vocabErr("add_eos_token is true, but there is no EOS token")
	}
	return nil
}

// NumTokens is the vocabulary size.
func (t *Tokenizer) NumTokens() int { return len(t.tokens) }

// Model returns tokenizer.ggml.model ("gpt2" or "llama").
func (t *Tokenizer) Model() string {
	if t.model == modelSPM {
		return "llama"
	}
	return "gpt2"
}

// Pre returns the pre-tokenizer tag ("" for SentencePiece).
func (t *Tokenizer) Pre() string { return t.preTag }

// Text returns the vocabulary text of id (GPT-2 byte-level form for BPE, with
// U+2581 for spaces in SentencePiece), or "" when id is out of range.
func (t *Tokenizer) Text(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.tokens[id]
}

// Score returns the SentencePiece score of id (0 when out of range).
func (t *Tokenizer) Score(id int32) float32 {
	if !t.valid(id) {
		return 0
	}
	return t.scores[id]
}

// TokenType returns the effective type of id: the file's type, except that
// tokens llama.cpp promotes to CONTROL (end-of-generation and FIM markers
// found by text) report TypeControl, and gpt-oss markers it demotes report
// TypeUserDefined. It returns TypeUndefined for ids out of range.
func (t *Tokenizer) TokenType(id int32) TokenType {
	if !t.valid(id) {
		return TypeUndefined
	}
	a := t.attrs[id]
	switch {
	case a&attrControl != 0:
		return TypeControl
	case a&attrUserDefined != 0:
		return TypeUserDefined
	case a&attrUnknown != 0:
		return TypeUnknown
	case a&attrByte != 0:
		return TypeByte
	case a&attrNormal != 0:
		return TypeNormal
	case a&attrUnused != 0:
		return TypeUnused
	}
	return TypeUndefined
}

// TokenID returns the id whose vocabulary text is exactly text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.index[text]
	return id, ok
}

// Specials returns the ids of the well-known special tokens.
func (t *Tokenizer) Specials() Specials { return t.specials }

// BOS returns the beginning-of-sequence id, or NoToken.
func (t *Tokenizer) BOS() int32 { return t.specials.BOS }

// EOS returns the end-of-sequence id, or NoToken.
func (t *Tokenizer) EOS() int32 { return t.specials.EOS }

// AddBOS reports whether llama.cpp prepends BOS when it tokenizes a prompt
// with add_special (false for SmolLM3's smaug-bpe, true for llama-bpe and
// SentencePiece unless tokenizer.ggml.add_bos_token says otherwise).
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether llama.cpp appends EOS when it tokenizes with
// add_special.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// IsEOG reports whether id ends generation: EOS, EOT, EOM and every token
// whose text is one of llama.cpp's end-of-generation markers (spec §5.5).
func (t *Tokenizer) IsEOG(id int32) bool {
	_, ok := slices.BinarySearch(t.eog, id)
	return ok
}

// EOG returns the end-of-generation ids in increasing order. The slice is a
// copy.
func (t *Tokenizer) EOG() []int32 { return slices.Clone(t.eog) }

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.tokens) }

// parseByteToken reads a <0xXX> token.
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexVal(s[3])
	lo, ok2 := hexVal(s[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
