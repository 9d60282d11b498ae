package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/server/scriptmodel"
)

// The server's tests run the real engine on scripted models (see package
// scriptmodel): real tokenizer, chat template, sampling, KV cache and
// forward pass, with a reply known in advance.

// Scripts used across the tests.
var (
	// thinkScript thinks "Why?" and answers "Ok! Sure".
	thinkScript = scriptmodel.Script{Thinking: "Why?", Answer: "Ok! Sure"}
	// plainScript answers "Fine." without thinking.
	plainScript = scriptmodel.Script{Answer: "Fine."}
	// loopScript says "abc abc abc …" until stopped.
	loopScript = scriptmodel.Script{Answer: "abc ", Loop: true}
)

var (
	scriptDirOnce sync.Once
	scriptDir     string
	scriptMu      sync.Mutex
)

// scriptedPath writes (once per test process and script) a scripted model
// and returns its path.
func scriptedPath(t testing.TB, s scriptmodel.Script) string {
	t.Helper()
	base := testutil.Fixture(t, "tiny-smollm3", "f32.gguf")
	tmpl := testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf")
	path, err := writeScripted(base, tmpl, s)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func writeScripted(base, tmpl string, s scriptmodel.Script) (string, error) {
	scriptDirOnce.Do(func() {
		scriptDir, _ = os.MkdirTemp("", "smolbot-scripted-")
	})
	if scriptDir == "" {
		return "", fmt.Errorf("no temporary directory for scripted models")
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%q|%q|%v", s.Thinking, s.Answer, s.Loop))
	path := filepath.Join(scriptDir, hex.EncodeToString(sum[:8])+".gguf")
	scriptMu.Lock()
	defer scriptMu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	return path, scriptmodel.Write(path, base, tmpl, s)
}

// newModel loads a scripted model in the engine; it is closed when the
// test ends (after the server, whose cleanup was registered later).
func newModel(t testing.TB, s scriptmodel.Script) *EngineModel {
	t.Helper()
	m, err := LoadEngine(scriptedPath(t, s), EngineOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
