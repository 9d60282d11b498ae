package scriptmodel

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/sample"
)

// TestScriptFollowed loads a scripted model in the engine and checks that
// both greedy decoding and SmolLM3's default sampling say the script.
func TestScriptFollowed(t *testing.T) {
	base := testutil.Fixture(t, "tiny-smollm3", "f32.gguf")
	tmpl := testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf")
	path := filepath.Join(t.TempDir(), "scripted.gguf")
	s := Script{Thinking: "Why?", Answer: "Ok! " + Distinct(20, "Why?Ok! ")}
	if err := Write(path, base, tmpl, s); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Load(path, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, think := range []bool{true, false} {
		prompt, err := e.Template().Render([]chat.Message{{Role: "user", Content: "hello there"}}, chat.Options{AddGenerationPrompt: true, EnableThinking: &think})
		if err != nil {
			t.Fatal(err)
		}
		ids := e.Tokenizer().Encode(prompt, true)
		for _, sp := range []sample.Params{{}, e.SamplingDefaults()} {
			seq, err := e.NewSequence(0)
			if err != nil {
				t.Fatal(err)
			}
			var ids2 []int32
			res, err := e.Generate(context.Background(), seq, ids, engine.GenParams{Sampling: sp, MaxTokens: 100}, func(tk engine.Token) error {
				ids2 = append(ids2, tk.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got := e.Tokenizer().Decode(ids2)
			want := "<think>Why?</think>" + s.Answer
			if got != want || res.StopReason != engine.StopEOG {
				t.Fatalf("think=%v: got %q (%s), want %q", think, got, res.StopReason, want)
			}
		}
	}
	// A looping script runs to the token limit.
	loop := filepath.Join(t.TempDir(), "loop.gguf")
	if err := Write(loop, base, tmpl, Script{Answer: "abc ", Loop: true}); err != nil {
		t.Fatal(err)
	}
	e2, err := engine.Load(loop, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	seq, _ := e2.NewSequence(0)
	prompt, _ := e2.Template().Render([]chat.Message{{Role: "user", Content: "x"}}, chat.DefaultOptions())
	res, err := e2.Generate(context.Background(), seq, e2.Tokenizer().Encode(prompt, true), engine.GenParams{MaxTokens: 10}, nil)
	if err != nil || res.Text != "abc abc ab" || res.StopReason != engine.StopLength {
		t.Fatalf("loop: %q %s %v", res.Text, res.StopReason, err)
	}
	// Repeated characters are refused.
	if err := Write(filepath.Join(t.TempDir(), "bad.gguf"), base, tmpl, Script{Answer: "hello"}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("repeated token: %v", err)
	}
}
