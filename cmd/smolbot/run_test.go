package main

import (
	"strings"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
)

// TestRunStories generates from BOS alone with the real stories260K model:
// the greedy story of the fixtures.
func TestRunStories(t *testing.T) {
	path := testutil.Fixture(t, "stories260K", "model.gguf")
	out, errs, code := smolbot(t, "run", "-m", path, "--raw", "-p", "", "--temp", "0", "-n", "40", "-t", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if want := "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."; !strings.HasPrefix(out, want) {
		t.Errorf("output %q, want it to start with %q", out, want)
	}
	if !strings.Contains(errs, "prompt: 1 tokens") || !strings.Contains(errs, "generated: 40 tokens") || !strings.Contains(errs, "tok/s") {
		t.Errorf("stats %q", errs)
	}
}

// TestRunChat renders SmolLM3's template (tiny model, random weights): the
// command must run and report the prompt size.
func TestRunChat(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf")
	for _, mode := range []string{"--think", "--no-think"} {
		_, errs, code := smolbot(t, "run", "-m", path, "-p", "Hi", "--system", "Be brief.", mode, "-n", "8", "--seed", "3")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", mode, code, errs)
		}
		if !strings.Contains(errs, "prompt: ") || !strings.Contains(errs, "stop: ") {
			t.Errorf("%s: stats %q", mode, errs)
		}
	}
	for _, args := range [][]string{
		{"run", "-m", path, "-p", "x", "--bogus"},
		{"run", "-m", path, "--temp", "-1"},
		{"run", "-m", path, "--kv", "q4_0"},
		{"run", "-m", path, "--think", "--no-think"},
		{"run", "-m", path, "--raw", "--system", "s"},
		{"run", "-m", path, "extra"},
	} {
		if _, _, code := smolbot(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if _, _, code := smolbot(t, "run", "-m", path+".missing", "-p", "x"); code != 1 {
		t.Errorf("missing model: exit %d, want 1", code)
	}
}
