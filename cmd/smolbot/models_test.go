package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/hf/hftest"
	"github.com/smolbot/smolbot/hub"
	"github.com/smolbot/smolbot/internal/testutil"
)

// defaultFile is the file of hub.DefaultRef in the fake hub.
const defaultFile = "SmolLM3-3B-Q4_K_M.gguf"

// fakeHub serves repo the way huggingface.co does (the tree API, and
// /resolve/ answering with X-Linked-Size/X-Linked-Etag and a redirect to
// the blob) and points HF_ENDPOINT at it. It counts the blob downloads.
func fakeHub(t *testing.T, repo string, files map[string][]byte) (srv *httptest.Server, downloads *atomic.Int64) {
	t.Helper()
	downloads = new(atomic.Int64)
	resolve := "/" + repo + "/resolve/main/"
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/api/models/"+repo+"/tree/main":
			var items []map[string]any
			for name, b := range files {
				items = append(items, map[string]any{"type": "file", "path": name, "size": len(b)})
			}
			json.NewEncoder(w).Encode(items)
		case strings.HasPrefix(p, resolve):
			b, ok := files[strings.TrimPrefix(p, resolve)]
			if !ok {
				http.NotFound(w, r)
				return
			}
			sum := sha256.Sum256(b)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
			w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
			w.Header().Set("Location", srv.URL+"/blob"+p)
			w.WriteHeader(http.StatusFound)
		case strings.HasPrefix(p, "/blob"+resolve):
			downloads.Add(1)
			w.Write(files[strings.TrimPrefix(p, "/blob"+resolve)])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	return srv, downloads
}

// emptyCache points the default cache at a new directory.
func emptyCache(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	t.Setenv(hub.CacheEnv, dir)
	return dir
}

// TestDefaultModelNotCached: every command that runs a model, given no
// -m and an empty cache, fails (exit 1) with the exact command that fetches
// the default model, and touches no network.
func TestDefaultModelNotCached(t *testing.T) {
	_, downloads := fakeHub(t, "unsloth/SmolLM3-3B-GGUF", map[string][]byte{defaultFile: []byte("x")})
	emptyCache(t)
	seqs := filepath.Join(t.TempDir(), "seqs.json")
	os.WriteFile(seqs, []byte(`{"sequences": [[1]]}`), 0o644)
	want := "\n    smolbot pull " + hub.DefaultRef + "\n"
	for _, args := range [][]string{
		{"run", "-p", "Hi"},
		{"chat"},
		{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()},
		{"bench"},
		{"eval", "--sequences", seqs, "--out", filepath.Join(t.TempDir(), "o.json")},
		{"tokenize", "Hi"},
		{"inspect"},
	} {
		_, stderr, code := cli(t, args...)
		if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--pull") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	// With --cache, the hint names the same directory.
	cache := t.TempDir()
	_, stderr, code := cli(t, "run", "--cache", cache, "-p", "Hi")
	if want := "smolbot pull --cache " + cache + " " + hub.DefaultRef; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("--cache: exit %d, stderr %q, want %q", code, stderr, want)
	}
	if downloads.Load() != 0 {
		t.Errorf("%d downloads without --pull", downloads.Load())
	}
}

// TestRunPullDefault: `smolbot run --pull` without -m downloads the default
// model from the hub into the cache and runs it; the next run finds it
// there without the network.
func TestRunPullDefault(t *testing.T) {
	model, err := os.ReadFile(testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	srv, downloads := fakeHub(t, "unsloth/SmolLM3-3B-GGUF", map[string][]byte{defaultFile: model, "SmolLM3-3B-Q8_0.gguf": []byte("other")})
	cache := emptyCache(t)
	args := []string{"run", "-p", "Hi", "--no-think", "-n", "6", "--temp", "0", "-t", "2"}
	stdout, stderr, code := cli(t, append(args, "--pull")...)
	if code != 0 {
		t.Fatalf("run --pull: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "downloading "+defaultFile) || !strings.Contains(stderr, "generated: 6 tokens") {
		t.Errorf("stderr %q", stderr)
	}
	got, err := os.ReadFile(filepath.Join(cache, "models--unsloth--SmolLM3-3B-GGUF", defaultFile))
	if err != nil || len(got) != len(model) {
		t.Fatalf("cached model: %d bytes, %v", len(got), err)
	}
	srv.Close()
	stdout2, stderr, code := cli(t, args...)
	if code != 0 || stdout2 != stdout {
		t.Fatalf("second run (offline): exit %d, %q vs %q: %s", code, stdout2, stdout, stderr)
	}
	// A hub reference names the same cached file.
	if _, stderr, code := cli(t, "tokenize", "-m", hub.DefaultRef, "Hi"); code != 0 {
		t.Errorf("tokenize -m REF: exit %d: %s", code, stderr)
	}
	if downloads.Load() != 1 {
		t.Errorf("%d downloads, want 1", downloads.Load())
	}
}

// TestRunHFDir: `smolbot run -m DIR` runs a Hugging Face directory in its
// own precision and writes what its converted GGUF writes; tokenize and
// inspect take the directory too.
func TestRunHFDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "SmolTest")
	if _, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	conv := filepath.Join(t.TempDir(), "smoltest.gguf")
	ot, _ := hf.PlainOutType("f32")
	if err := hf.Convert(dir, conv, hf.ConvertOptions{Out: ot}); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--raw", "-p", "hello world"}, {"-p", "hello", "--system", "Be brief."}} {
		args := append([]string{"-n", "12", "--temp", "0", "-t", "2"}, extra...)
		want, stderr, code := cli(t, append([]string{"run", "-m", conv}, args...)...)
		if code != 0 {
			t.Fatalf("run GGUF: exit %d: %s", code, stderr)
		}
		got, stderr, code := cli(t, append([]string{"run", "-m", dir}, args...)...)
		if code != 0 {
			t.Fatalf("run DIR: exit %d: %s", code, stderr)
		}
		if got != want || !strings.Contains(stderr, "generated: 12 tokens") {
			t.Errorf("%v: DIR wrote %q, the GGUF %q; stderr %q", extra, got, want, stderr)
		}
	}
	a, _, _ := cli(t, "tokenize", "--json", "-m", conv, "hello world")
	b, stderr, code := cli(t, "tokenize", "--json", "-m", dir, "hello world")
	if code != 0 || a != b {
		t.Errorf("tokenize DIR: exit %d, %q vs %q: %s", code, b, a, stderr)
	}
	out, stderr, code := cli(t, "inspect", dir)
	if code != 0 || !strings.Contains(out, "smollm3") {
		t.Errorf("inspect DIR: exit %d: %s%s", code, out, stderr)
	}
	// A directory that is not a model, and a mistyped name, are one-line errors.
	for _, m := range []string{t.TempDir(), "SmolTset"} {
		_, stderr, code := cli(t, "run", "-m", m, "-p", "x")
		if code != 1 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("-m %s: exit %d, stderr %q", m, code, stderr)
		}
	}
}

// TestFlagErrors: a bad flag is a one-line usage error with the hint to
// run -h, not the whole flag list; -h prints the flags.
func TestFlagErrors(t *testing.T) {
	for _, c := range []string{"run", "chat", "serve", "bench", "eval", "tokenize", "inspect", "convert"} {
		_, stderr, code := cli(t, c, "--bogus")
		if want := "smolbot " + c + ": flag provided but not defined: -bogus\nrun `smolbot " + c + " -h` for usage\n"; code != 2 || stderr != want {
			t.Errorf("%s --bogus: exit %d, stderr %q", c, code, stderr)
		}
		stdout, stderr, code := cli(t, "help", c)
		if code != 0 || !strings.Contains(stdout, "usage: smolbot "+c) || stderr != "" {
			t.Errorf("help %s: exit %d, %q %q", c, code, stdout, stderr)
		}
		_, stderr, code = cli(t, c, "-h")
		if code != 0 || !strings.Contains(stderr, "usage: smolbot "+c) {
			t.Errorf("%s -h: exit %d, %q", c, code, stderr)
		}
	}
}

// TestServePullDefault: `smolbot serve --pull` without -m starts, downloads
// the default model and serves it.
func TestServePullDefault(t *testing.T) {
	model, err := os.ReadFile(testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	_, downloads := fakeHub(t, "unsloth/SmolLM3-3B-GGUF", map[string][]byte{defaultFile: model})
	emptyCache(t)
	o, err := parseServeFlags(commands["serve"], []string{"--pull", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "-t", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, &stdout, &stderr) }()
	waitOutput(t, &stdout, "ready")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	if downloads.Load() != 1 || !strings.Contains(stderr.String(), "downloading "+defaultFile) {
		t.Errorf("%d downloads; log:\n%s", downloads.Load(), stderr.String())
	}
}

// TestRunPromptFromStdin: without -p, run reads the prompt from stdin, or
// (on a terminal) asks for -p.
func TestRunPromptFromStdin(t *testing.T) {
	path := testutil.Fixture(t, "stories260K", "model.gguf")
	args := []string{"-m", path, "-n", "8", "--temp", "0", "-t", "1"}
	var out, errb strings.Builder
	if err := runRun(commands["run"], args, strings.NewReader("Once upon a time\n"), &out, &errb); err != nil {
		t.Fatal(err)
	}
	want, _, _ := cli(t, "run", "-m", path, "-n", "8", "--temp", "0", "-t", "1", "-p", "Once upon a time")
	if out.String() != want || want == "\n" {
		t.Errorf("stdin prompt wrote %q, -p %q", out.String(), want)
	}
	if err := runRun(commands["run"], args, nil, &out, &errb); err == nil || !strings.Contains(err.Error(), "-p PROMPT is required") {
		t.Errorf("no prompt on a terminal: %v", err)
	}
}
