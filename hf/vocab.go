package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/smolbot/smolbot/gguf"
)

// Token types as GGUF's tokenizer.ggml.token_type stores them (spec §5.1).
const (
	TokenNormal      int32 = 1
	TokenUnknown     int32 = 2
	TokenControl     int32 = 3
	TokenUserDefined int32 = 4
	TokenUnused      int32 = 5
	TokenByte        int32 = 6
)

// Vocab is a tokenizer in the form the GGUF tokenizer.ggml.* keys hold it,
// built from tokenizer.json the way llama.cpp's converter does for
// byte-level BPE models (_set_vocab_gpt2 and gguf-py's SpecialVocab).
type Vocab struct {
	Model  string   // tokenizer.ggml.model: always "gpt2" (byte-level BPE)
	Pre    string   // tokenizer.ggml.pre, see detectPre
	Tokens []string // byte-level unicode form for NORMAL tokens, raw text for added tokens
	Types  []int32
	Merges []string // "left right", rank = index
	// Special maps gguf-py's special token kinds (bos, eos, unk, sep, pad,
	// cls, mask) to ids, for the ones the files define.
	Special map[string]uint32
	// AddBOS and AddEOS are nil when neither tokenizer_config.json nor the
	// tokenizer's post-processor says.
	AddBOS, AddEOS *bool
	// ChatTemplate is the default Jinja chat template, "" if none.
	ChatTemplate string
	// NamedTemplates holds the other named templates, if the config lists several.
	NamedTemplates map[string]string
	// Warnings explain guesses (e.g. an unrecognised pre-tokenizer).
	Warnings []string
}

// specialKinds lists gguf-py's special token kinds in its order, with the
// GGUF key each is written to ("seperator" is gguf's spelling).
var specialKinds = []struct{ kind, key string }{
	{"bos", "bos_token_id"}, {"eos", "eos_token_id"}, {"unk", "unknown_token_id"},
	{"sep", "seperator_token_id"}, {"pad", "padding_token_id"}, {"cls", "cls_token_id"},
	{"mask", "mask_token_id"},
}

type addedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

type tokenizerJSON struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         struct {
		Type   string          `json:"type"`
		Vocab  map[string]int  `json:"vocab"`
		Merges json.RawMessage `json:"merges"`
	} `json:"model"`
}

// ReadVocab builds the GGUF vocabulary of dir from tokenizer.json,
// tokenizer_config.json (special tokens, add_bos_token, chat template),
// chat_template.jinja / chat_template.json if present, and config.json
// (vocab_size and fallback special ids).
func ReadVocab(dir string, cfg *Config) (*Vocab, error) {
	b, err := os.ReadFile(filepath.Join(dir, TokenizerFile))
	if err != nil {
		return nil, fmt.Errorf("hf: %w (only tokenizer.json byte-level BPE tokenizers are supported)", err)
	}
	var tj tokenizerJSON
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", TokenizerFile, err)
	}
	if tj.Model.Type != "BPE" && !(tj.Model.Type == "" && len(tj.Model.Merges) > 0) {
		return nil, fmt.Errorf("hf: %s: model type %q is not supported (want BPE)", TokenizerFile, tj.Model.Type)
	}
	pres := flattenPre(tj.PreTokenizer)
	if !isByteLevel(pres) && !hasType(tj.Decoder, "ByteLevel") {
		return nil, fmt.Errorf("hf: %s: not a byte-level BPE tokenizer (SentencePiece-style tokenizers are not supported)", TokenizerFile)
	}
	tc, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	v := &Vocab{Model: "gpt2", Special: map[string]uint32{}}

	// Tokens, as get_vocab_base does: ids up to vocab_size, gaps padded.
	added := map[int]addedToken{}
	maxID := -1
	for text, id := range tj.Model.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("hf: %s: token %q has negative id %d", TokenizerFile, text, id)
		}
		maxID = max(maxID, id)
	}
	for _, a := range tj.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("hf: %s: added token %q has negative id %d", TokenizerFile, a.Content, a.ID)
		}
		added[a.ID] = a
		maxID = max(maxID, a.ID)
	}
	n := cfg.VocabSize
	if n == 0 {
		n = maxID + 1
	}
	if maxID >= n {
		return nil, fmt.Errorf("hf: %s has token id %d but config.json vocab_size is %d", TokenizerFile, maxID, n)
	}
	if n == 0 || n > 1<<22 {
		return nil, fmt.Errorf("hf: vocabulary of %d tokens out of range", n)
	}
	v.Tokens = make([]string, n)
	v.Types = make([]int32, n)
	have := make([]bool, n)
	for text, id := range tj.Model.Vocab {
		if have[id] {
			return nil, fmt.Errorf("hf: %s: id %d is used by two tokens", TokenizerFile, id)
		}
		have[id] = true
		v.Tokens[id], v.Types[id] = text, TokenNormal
	}
	for id, a := range added {
		have[id] = true
		v.Tokens[id] = a.Content
		if a.Special || looksSpecial(a.Content) {
			v.Types[id] = TokenControl
		} else {
			v.Types[id] = TokenUserDefined
		}
	}
	for id := range v.Tokens {
		if !have[id] {
			v.Tokens[id], v.Types[id] = fmt.Sprintf("[PAD%d]", id), TokenUnused
		}
	}

	if v.Merges, err = parseMerges(tj.Model.Merges); err != nil {
		return nil, err
	}

	bos, _ := tc.tokenText("bos")
	eos, _ := tc.tokenText("eos")
	addBOS, addEOS, bosInTemplate := templateAdds(tj.PostProcessor, bos, eos, tc != nil)
	v.AddBOS, v.AddEOS = addBOS, addEOS
	if x, ok := tc["add_bos_token"].(bool); ok {
		v.AddBOS = &x
	}
	if x, ok := tc["add_eos_token"].(bool); ok {
		v.AddEOS = &x
	}
	var warn string
	v.Pre, warn = detectPre(pres, bosInTemplate)
	if warn != "" {
		v.Warnings = append(v.Warnings, warn)
	}

	// Special ids: tokenizer_config.json strings resolved among the added
	// tokens, then config.json ids for the kinds still unset (SpecialVocab).
	byContent := map[string]int{}
	for _, a := range tj.AddedTokens {
		if _, dup := byContent[a.Content]; !dup {
			byContent[a.Content] = a.ID
		}
	}
	for _, s := range specialKinds {
		if text, ok := tc.tokenText(s.kind); ok {
			if id, ok := byContent[text]; ok {
				v.Special[s.kind] = uint32(id)
			}
		}
	}
	for kind, raw := range map[string]any{"bos": cfg.BOSTokenID, "eos": cfg.EOSTokenID, "pad": cfg.PADTokenID, "unk": cfg.UNKTokenID} {
		if _, set := v.Special[kind]; set {
			continue
		}
		if f, ok := raw.(float64); ok && f >= 0 && f < float64(n) && f == float64(int(f)) {
			v.Special[kind] = uint32(f)
		}
	}

	if err := v.readChatTemplates(dir, tc); err != nil {
		return nil, err
	}
	return v, nil
}

// looksSpecial is gguf-py's does_token_look_special: added tokens shaped
// like <|...|> are CONTROL even when not flagged special.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>") && len(s) >= 4 ||
		strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>")
}

// parseMerges accepts both tokenizer.json spellings: "a b" strings and
// [a, b] pairs. In pairs a literal space is written as Ġ (U+0120), as
// gguf-py does, so that "a b" stays splittable at its only space.
func parseMerges(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("hf: %s: model.merges is missing", TokenizerFile)
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		return strs, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("hf: %s: model.merges must be strings or pairs of strings: %w", TokenizerFile, err)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("hf: %s: merge #%d has %d parts, want 2", TokenizerFile, i, len(p))
		}
		out[i] = strings.ReplaceAll(p[0], " ", "\u0120") + " " + strings.ReplaceAll(p[1], " ", "\u0120")
	}
	return out, nil
}

// tokenizerConfig is tokenizer_config.json, kept loose: its fields are
// strings or AddedToken objects depending on the writer's version.
type tokenizerConfig map[string]any

func readTokenizerConfig(dir string) (tokenizerConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, TokenizerConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var tc tokenizerConfig
	if err := json.Unmarshal(b, &tc); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", TokenizerConfigFile, err)
	}
	return tc, nil
}

// tokenText returns the text of "<kind>_token", a string or {"content": ...}.
func (tc tokenizerConfig) tokenText(kind string) (string, bool) {
	switch e := tc[kind+"_token"].(type) {
	case string:
		return e, true
	case map[string]any:
		s, ok := e["content"].(string)
		return s, ok
	}
	return "", false
}

// readChatTemplates follows gguf-py: tokenizer_config.json's chat_template
// wins; chat_template.jinja, then chat_template.json, are fallbacks. A list
// of {name, template} maps "default" to tokenizer.chat_template.
func (v *Vocab) readChatTemplates(dir string, tc tokenizerConfig) error {
	var alt string
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		alt = string(b)
	} else if b, err := os.ReadFile(filepath.Join(dir, "chat_template.json")); err == nil {
		var j struct {
			ChatTemplate string `json:"chat_template"`
		}
		if err := json.Unmarshal(b, &j); err != nil {
			return fmt.Errorf("hf: chat_template.json: %w", err)
		}
		alt = j.ChatTemplate
	}
	switch t := tc["chat_template"].(type) {
	case string:
		v.ChatTemplate = t
	case []any:
		for _, e := range t {
			m, _ := e.(map[string]any)
			name, _ := m["name"].(string)
			tmpl, ok := m["template"].(string)
			if name == "" || !ok {
				return fmt.Errorf("hf: %s: chat_template list entries need a name and a template", TokenizerConfigFile)
			}
			if name == "default" {
				v.ChatTemplate = tmpl
				continue
			}
			if v.NamedTemplates == nil {
				v.NamedTemplates = map[string]string{}
			}
			v.NamedTemplates[name] = tmpl
		}
	default:
		v.ChatTemplate = alt
	}
	return nil
}

// templateAdds reads a TemplateProcessing post-processor (possibly inside a
// Sequence) as gguf-py does: with more than one piece in the single-input
// template, a leading special token means add_bos and a trailing one add_eos.
// bosInTemplate reports a leading BOS whatever add_bos_token says, which is
// what tells llama.cpp's smaug-bpe and llama-bpe hashes apart.
func templateAdds(raw json.RawMessage, bos, eos string, haveConfig bool) (addBOS, addEOS *bool, bosInTemplate bool) {
	var pp struct {
		Type       string            `json:"type"`
		Processors []json.RawMessage `json:"processors"`
		Single     []map[string]struct {
			ID string `json:"id"`
		} `json:"single"`
	}
	if json.Unmarshal(raw, &pp) != nil {
		return nil, nil, false
	}
	if pp.Type == "Sequence" {
		for _, p := range pp.Processors {
			if hasType(p, "TemplateProcessing") {
				return templateAdds(p, bos, eos, haveConfig)
			}
		}
		return nil, nil, false
	}
	if pp.Type != "TemplateProcessing" || len(pp.Single) < 2 {
		return nil, nil, false
	}
	if first, ok := pp.Single[0]["SpecialToken"]; ok && first.ID != "" {
		b := !haveConfig || bos == "" || first.ID == bos
		addBOS, bosInTemplate = &b, b
	}
	if last, ok := pp.Single[len(pp.Single)-1]["SpecialToken"]; ok && last.ID != "" {
		e := !haveConfig || eos == "" || last.ID == eos
		addEOS = &e
	}
	return addBOS, addEOS, bosInTemplate
}

func hasType(raw json.RawMessage, typ string) bool {
	var t struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(raw, &t) == nil && t.Type == typ
}

// preTokenizer is one step of a tokenizer.json pre_tokenizer.
type preTokenizer struct {
	Type    string `json:"type"`
	Pattern struct {
		Regex  string `json:"Regex"`
		String string `json:"String"`
	} `json:"pattern"`
	UseRegex         *bool `json:"use_regex"`
	IndividualDigits bool  `json:"individual_digits"`
}

func flattenPre(raw json.RawMessage) []preTokenizer {
	var seq struct {
		Type          string            `json:"type"`
		Pretokenizers []json.RawMessage `json:"pretokenizers"`
	}
	if json.Unmarshal(raw, &seq) != nil {
		return nil
	}
	if seq.Type == "Sequence" {
		var out []preTokenizer
		for _, p := range seq.Pretokenizers {
			out = append(out, flattenPre(p)...)
		}
		return out
	}
	var p preTokenizer
	if json.Unmarshal(raw, &p) != nil {
		return nil
	}
	return []preTokenizer{p}
}

func isByteLevel(ps []preTokenizer) bool {
	for _, p := range ps {
		if p.Type == "ByteLevel" {
			return true
		}
	}
	return false
}

// The Llama-3 split regex as tokenizer.json stores it, and the explicit-case
// spelling llama.cpp uses (spec §5.2).
const (
	llama3Regex      = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	llama3RegexCases = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// detectPre chooses tokenizer.ggml.pre from the pre-tokenizer's structure.
// llama.cpp's converter hashes the ids of a test string instead, which needs
// the tokenizer itself; these rules reproduce its answers for the supported
// families:
//   - the Llama-3 regex: "llama-bpe" if the post-processor prepends BOS
//     (the Llama-3 hash includes it), else "smaug-bpe" (SmolLM3);
//   - individual digits then the GPT-2 ByteLevel regex: "smollm" (SmolLM, SmolLM2);
//   - the GPT-2 ByteLevel regex alone: "gpt-2".
//
// Anything else gets "default" and a warning.
func detectPre(ps []preTokenizer, bosInTemplate bool) (pre, warning string) {
	var split []string
	digits, byteRegex := false, false
	for _, p := range ps {
		switch p.Type {
		case "Split":
			split = append(split, p.Pattern.Regex+p.Pattern.String)
		case "Digits":
			digits = digits || p.IndividualDigits
		case "ByteLevel":
			byteRegex = byteRegex || p.UseRegex == nil || *p.UseRegex
		}
	}
	switch {
	case len(split) == 1 && (split[0] == llama3Regex || split[0] == llama3RegexCases) && !byteRegex && !digits:
		if bosInTemplate {
			return "llama-bpe", ""
		}
		return "smaug-bpe", ""
	case len(split) == 0 && digits && byteRegex:
		return "smollm", ""
	case len(split) == 0 && !digits && byteRegex:
		return "gpt-2", ""
	}
	return "default", "hf: pre-tokenizer not recognised; using llama.cpp's \"default\" splitting, which may tokenize differently from the original"
}

// KV returns the tokenizer.* metadata pairs in the order gguf-py writes them.
func (v *Vocab) KV() []gguf.KV {
	var m kv
	m.add("tokenizer.ggml.model", v.Model)
	m.add("tokenizer.ggml.pre", v.Pre)
	m.add("tokenizer.ggml.tokens", v.Tokens)
	m.add("tokenizer.ggml.token_type", v.Types)
	m.add("tokenizer.ggml.merges", v.Merges)
	for _, s := range specialKinds {
		if id, ok := v.Special[s.kind]; ok {
			m.add("tokenizer.ggml."+s.key, id)
		}
	}
	if v.AddBOS != nil {
		m.add("tokenizer.ggml.add_bos_token", *v.AddBOS)
	}
	if v.AddEOS != nil {
		m.add("tokenizer.ggml.add_eos_token", *v.AddEOS)
	}
	if v.ChatTemplate != "" {
		m.add("tokenizer.chat_template", v.ChatTemplate)
	}
	if len(v.NamedTemplates) > 0 {
		names := make([]string, 0, len(v.NamedTemplates))
		for name := range v.NamedTemplates {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			m.add("tokenizer.chat_template."+name, v.NamedTemplates[name])
		}
		m.add("tokenizer.chat_templates", names)
	}
	return m
}
