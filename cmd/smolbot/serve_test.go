package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smolbot/smolbot/api"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/server/scriptmodel"
	"github.com/smolbot/smolbot/store/sqlite"
)

// scriptedModelFile writes a scripted SmolLM3 model (see package
// scriptmodel) for the CLI tests.
func scriptedModelFile(t *testing.T, s scriptmodel.Script) string {
	t.Helper()
	base := testutil.Fixture(t, "tiny-smollm3", "f32.gguf")
	tmpl := testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf")
	path := filepath.Join(t.TempDir(), "scripted.gguf")
	if err := scriptmodel.Write(path, base, tmpl, s); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits until buf contains want.
func waitOutput(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q:\n%s", want, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "2GiB": 2 << 30, "512MiB": 512 << 20, "1.5G": 3 << 29, "10MB": 10e6, "4k": 4096, " 3 GiB ": 3 << 30,
	} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "-1G", "2XB", "1..5G"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--kv-budget", "lots"}, {"--parallel", "0"}, {"-t", "-1"}, {"extra"}, {"--queue", "0"},
	} {
		_, stderr, code := smolbot(t, append([]string{"serve"}, args...)...)
		if code != 2 {
			t.Errorf("serve %v: exit %d, stderr %s", args, code, stderr)
		}
	}
	t.Setenv("XDG_DATA_HOME", "/tmp/xdg-test")
	t.Setenv("SMOLBOT_API_KEY", "from-env")
	o, err := parseServeFlags(commands["serve"], nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.dataDir != "/tmp/xdg-test/smolbot" || o.apiKey != "from-env" || o.addr != "127.0.0.1:8080" || o.kvBudget != 2<<30 {
		t.Fatalf("defaults: %+v", o)
	}
}

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

// TestServe runs `smolbot serve` on a scripted model: it listens before the
// model is loaded (healthz 503), then serves chats, and stops cleanly.
func TestServe(t *testing.T) {
	model := scriptedModelFile(t, scriptmodel.Script{Thinking: "Why?", Answer: "Ok! Sure"})
	dataDir := t.TempDir()
	release := make(chan struct{})
	orig := openModel
	openModel = func(path string, o modelOptions) (servedModel, error) {
		<-release // hold the load so the test sees the server before it
		return orig(path, o)
	}
	defer func() { openModel = orig }()

	o, err := parseServeFlags(commands["serve"], []string{"-m", model, "--addr", "127.0.0.1:0", "--data", dataDir, "-t", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, &stdout, &stderr) }()
	waitOutput(t, &stdout, "listening on")
	base := listenRE.FindStringSubmatch(stdout.String())[1]

	health := func() int {
		r, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if c := health(); c != 503 {
		t.Fatalf("healthz while loading: %d", c)
	}
	close(release)
	waitOutput(t, &stdout, "ready")
	if c := health(); c != 200 {
		t.Fatalf("healthz after load: %d", c)
	}
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var c api.ChatCompletion
	json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != "Ok! Sure" || c.Choices[0].Message.ReasoningContent != "Why?" || c.Model != "scripted-smollm3" {
		t.Fatalf("completion: %+v", c)
	}
	// A web chat, stored in the data directory.
	wc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, err := wc.Post(base+"/chat", "application/x-www-form-urlencoded", strings.NewReader("content=hello&thinking=on"))
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 303 {
		t.Fatalf("POST /chat: %d", r2.StatusCode)
	}
	sid := strings.TrimPrefix(r2.Header.Get("Location"), "/s/")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	db, err := sqlite.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.Messages(context.Background(), sid)
	if err != nil || len(msgs) != 2 || msgs[0].Content != "hello" || !msgs[1].State.Finished() {
		t.Fatalf("stored chat: %+v %v", msgs, err)
	}
}

// TestServeBadModel: a model that cannot be loaded ends serve with the
// loader's error.
func TestServeBadModel(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	o, err := parseServeFlags(commands["serve"], []string{"-m", bad, "--addr", "127.0.0.1:0", "--data", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), o, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve with a missing model file succeeded")
	}
}
