package tokenizer

import (
	"cmp"
	"slices"
	"strings"
)

// Texts by which llama.cpp recognises special tokens when no key names them.
// llama.cpp scans an unordered map and keeps the first hit; where several
// candidates exist this package takes the first in list order.
var (
	eotTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
		"<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}
	eomTexts    = []string{"<|eom_id|>"}
	fimPreTexts = []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"}
	fimSufTexts = []string{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"}
	fimMidTexts = []string{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"}
	fimPadTexts = []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}
	fimRepTexts = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}
	fimSepTexts = []string{"<|file_sep|>"}

	// eogTexts end generation wherever they appear in a vocabulary.
	eogTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
		"<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
		"[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
		"<｜end▁of▁sentence｜>", "[e~["}

	// alwaysRendered are gpt-oss markers llama.cpp turns into USER_DEFINED.
	alwaysRendered = []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}
)

// detectSpecials reproduces llama.cpp's text-based fix-ups: unnamed EOT/EOM/
// FIM tokens are found by text and forced to CONTROL, CONTROL tokens named
// "unused" are marked UNUSED, and the end-of-generation set is built
// (spec §5.5).
func (t *Tokenizer) detectSpecials() {
	find := func(key string, texts []string) {
		if t.ids[key] != NoToken {
			return
		}
		for _, s := range texts {
			if id, ok := t.index[s]; ok {
				t.ids[key] = id
				t.attrs[id] |= attrControl
				return
			}
		}
	}
	find(KeyEOT, eotTexts)
	find(KeyEOM, eomTexts)
	find(KeyFIMPre, fimPreTexts)
	find(KeyFIMSuf, fimSufTexts)
	find(KeyFIMMid, fimMidTexts)
	find(KeyFIMPad, fimPadTexts)
	find(KeyFIMRep, fimRepTexts)
	find(KeyFIMSep, fimSepTexts)

	for id, s := range t.tokens {
		if t.attrs[id]&attrControl != 0 && strings.Contains(s, "unused") {
			t.attrs[id] |= attrUnused
		}
	}

	eog := map[int32]bool{}
	for _, k := range []string{KeyFIMPad, KeyFIMRep, KeyFIMSep} {
		if id := t.ids[k]; id != NoToken {
			eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.index[s]; ok {
			eog[id] = true
			t.attrs[id] |= attrControl
		}
	}
	for _, s := range alwaysRendered {
		if id, ok := t.index[s]; ok {
			t.attrs[id] = attrUserDefined
		}
	}
	for _, k := range []string{KeyEOS, KeyEOT, KeyEOM} {
		if id := t.ids[k]; id != NoToken {
			eog[id] = true
		}
	}
	has := func(s string) (int32, bool) {
		id, ok := t.index[s]
		return id, ok && eog[id]
	}
	// gpt-oss and solar-open: <|end|> ends a message, not the generation.
	endID, hasEnd := has("<|end|>")
	_, hasReturn := has("<|return|>")
	_, hasCall := has("<|call|>")
	_, hasCalls := has("<|calls|>")
	_, hasFlush := has("<|flush|>")
	if hasEnd && ((hasReturn && (hasCall || hasCalls)) || ((hasCall || hasCalls) && hasFlush)) {
		delete(eog, endID)
		t.attrs[endID] = attrUserDefined
	}
	// gemma4 and paddleocr: </s> is ordinary text there.
	sID, hasS := has("</s>")
	if _, hasTR := has("<|tool_response>"); hasTR && hasS {
		delete(eog, sID)
		t.attrs[sID] = attrNormal
	}
	for id := range eog {
		t.eog = append(t.eog, id)
	}
	slices.Sort(t.eog)

	tid := func(s string) int32 {
		if id, ok := t.index[s]; ok {
			return id
		}
		return NoToken
	}
	t.specials = Specials{
		BOS: t.ids[KeyBOS], EOS: t.ids[KeyEOS], EOT: t.ids[KeyEOT], EOM: t.ids[KeyEOM],
		UNK: t.ids[KeyUNK], SEP: t.ids[KeySEP], PAD: t.ids[KeyPAD], Mask: t.ids[KeyMask],
		FIMPre: t.ids[KeyFIMPre], FIMSuf: t.ids[KeyFIMSuf], FIMMid: t.ids[KeyFIMMid],
		FIMPad: t.ids[KeyFIMPad], FIMRep: t.ids[KeyFIMRep], FIMSep: t.ids[KeyFIMSep],
		ImStart: tid("<|im_start|>"), ImEnd: tid("<|im_end|>"),
		Think: tid("<think>"), EndThink: tid("</think>"),
	}
}

// buildSpecialCache lists the tokens matched before pre-tokenization, longest
// text first. llama.cpp's sort is unstable; ties here go by id.
func (t *Tokenizer) buildSpecialCache() {
	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.specialOrder = append(t.specialOrder, int32(id))
		}
	}
	slices.SortStableFunc(t.specialOrder, func(a, b int32) int {
		return cmp.Compare(len(t.tokens[b]), len(t.tokens[a]))
	})
	t.specialTrie.init()
	for i, id := range t.specialOrder {
		t.specialTrie.insert(t.tokens[id], int32(i))
	}
}

// trie maps byte strings to values; it finds the special tokens occurring in
// a text in one pass.
type trie struct {
	first [256]bool        // bytes that start some key
	next  map[uint64]int32 // node<<8 | byte → child node
	value map[int32]int32  // node → value, for nodes ending a key
	nodes int32            // number of nodes; 0 is the root
}

func (tr *trie) init() {
	tr.next = map[uint64]int32{}
	tr.value = map[int32]int32{}
	tr.nodes = 1
}

func (tr *trie) insert(key string, v int32) {
	if key == "" {
		return
	}
	tr.first[key[0]] = true
	node := int32(0)
	for i := 0; i < len(key); i++ {
		k := uint64(node)<<8 | uint64(key[i])
		child, ok := tr.next[k]
		if !ok {
			child = tr.nodes
			tr.nodes++
			tr.next[k] = child
		}
		node = child
	}
	tr.value[node] = v
}

// matchesAt calls f with the value of every key that is a prefix of s.
func (tr *trie) matchesAt(s string, f func(v int32)) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		child, ok := tr.next[uint64(node)<<8|uint64(s[i])]
		if !ok {
			return
		}
		node = child
		if v, ok := tr.value[node]; ok {
			f(v)
		}
	}
}
