package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
)

func TestTokenize(t *testing.T) {
	vocab := testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf")
	// Spec §10: "Hello world" → 9906 1917.
	out, errs, code := smolbot(t, "tokenize", "-m", vocab, "--json", "Hello world")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		IDs    []int32  `json:"ids"`
		Pieces []string `json:"pieces"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.IDs, []int32{9906, 1917}) || !slices.Equal(r.Pieces, []string{"Hello", " world"}) {
		t.Errorf("got %v %q", r.IDs, r.Pieces)
	}
	// Special tokens are single ids only with --special.
	out, _, _ = smolbot(t, "tokenize", "-m", vocab, "--special", "<|im_start|>user")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "128011") {
		t.Errorf("--special output %q", out)
	}
	out, _, _ = smolbot(t, "tokenize", "-m", vocab, "<|im_start|>")
	if strings.Contains(out, "128011") {
		t.Errorf("without --special: %q", out)
	}
	// --bos on a SentencePiece model.
	out, _, code = smolbot(t, "tokenize", "-m", testutil.Fixture(t, "stories260K", "model.gguf"), "--bos", "--json", "Once upon")
	if code != 0 || !strings.HasPrefix(out, `{"ids":[1,`) {
		t.Errorf("--bos: exit %d, %q", code, out)
	}
	if _, _, code := smolbot(t, "tokenize", "-m", vocab); code != 2 {
		t.Errorf("missing TEXT: exit %d", code)
	}
}
