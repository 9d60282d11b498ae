package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
)

// TestEvalStories recomputes the stories260K reference and compares it.
func TestEvalStories(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	stdout, errs, code := smolbot(t, "eval", "-m", testutil.Fixture(t, "stories260K", "model.gguf"),
		"--sequences", testutil.Fixture(t, "stories260K", "sequences.json"), "--out", out, "--greedy", "200",
		"--compare", testutil.Fixture(t, "stories260K", "ref-f32.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got, ref evalFile
	if err := readJSON(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := readJSON(testutil.Fixture(t, "stories260K", "ref-f32.json"), &ref); err != nil {
		t.Fatal(err)
	}
	if got.NVocab != 512 || got.KVType != "f32" || len(got.Cases) != len(ref.Cases) {
		t.Fatalf("header %d %s %d", got.NVocab, got.KVType, len(got.Cases))
	}
	for i := range got.Cases {
		if !slices.Equal(got.Cases[i].Greedy, ref.Cases[i].Greedy) {
			t.Errorf("case %d: greedy differs", i)
		}
		for p := range got.Cases[i].Logits {
			if d, _ := diffLogits(got.Cases[i].Logits[p], ref.Cases[i].Logits[p]); d > 1e-3 {
				t.Errorf("case %d position %d: max|Δ| %g", i, p, d)
			}
		}
		if d, _ := diffLogits(got.Cases[i].GreedyLastLogits, ref.Cases[i].GreedyLastLogits); d > 1e-3 {
			t.Errorf("case %d greedy_last_logits: max|Δ| %g", i, d)
		}
	}
	if !strings.Contains(stdout, "200/200") || !strings.Contains(stdout, "max|Δlogit|") {
		t.Errorf("comparison table:\n%s", stdout)
	}
	// The output has the reference's schema.
	b, _ := os.ReadFile(out)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil || raw["cases"] == nil || raw["n_vocab"] == nil {
		t.Errorf("output schema: %v", err)
	}
	for _, args := range [][]string{
		{"eval", "-m", "x"},
		{"eval", "-m", "x", "--sequences", "y"},
		{"eval", "-m", "x", "--sequences", "y", "--out", "z", "--greedy", "-1"},
	} {
		if _, _, code := smolbot(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
