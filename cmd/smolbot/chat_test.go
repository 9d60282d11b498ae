package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/server"
	"github.com/smolbot/smolbot/server/scriptmodel"
	"github.com/smolbot/smolbot/store/sqlite"
)

// startChat runs the terminal chat on a scripted model; the returned
// writer is its keyboard.
func startChat(t *testing.T, s scriptmodel.Script, o *chatOptions) (in *io.PipeWriter, out, errOut *syncBuffer, sig chan os.Signal, done chan error) {
	t.Helper()
	m, err := server.LoadEngine(scriptedModelFile(t, s), server.EngineOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	b, err := newLocalChat(o, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	return runChatAsync(t, o, b)
}

// runChatAsync runs the chat loop on b in a goroutine; the returned writer
// is its keyboard, sig its Ctrl-C, done its result.
func runChatAsync(t *testing.T, o *chatOptions, b chatBackend) (in *io.PipeWriter, out, errOut *syncBuffer, sig chan os.Signal, done chan error) {
	r, w := io.Pipe()
	out, errOut = &syncBuffer{}, &syncBuffer{}
	sig = make(chan os.Signal, 1)
	done = make(chan error, 1)
	go func() { done <- runChat(context.Background(), o, b, r, out, errOut, sig) }()
	t.Cleanup(func() { w.Close() })
	return w, out, errOut, sig, done
}

func TestChatTurnsAndCommands(t *testing.T) {
	in, out, errOut, _, done := startChat(t, scriptmodel.Script{Thinking: "Why?", Answer: "Ok! Sure"}, &chatOptions{thinking: true})
	io.WriteString(in, "hello\n")
	waitOutput(t, out, "<think>\nWhy?\n</think>\nOk! Sure\n")
	waitOutput(t, errOut, "(0 cached)]")
	// The second turn reuses the KV cache of the first.
	io.WriteString(in, "and then?\n")
	waitOutput(t, errOut, "]\n[")
	if stats := errOut.String(); strings.Contains(stats[strings.LastIndex(stats, "["):], "(0 cached)") {
		t.Fatalf("second turn reused nothing: %s", stats)
	}
	io.WriteString(in, "/system Be brief.\n/system\n/no_think\n/clear\n/nonsense\n/exit\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(system prompt set)", "(system prompt: Be brief.)", "(thinking off)", "(conversation cleared)", "unknown command /nonsense"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestChatCtrlC: an interrupt stops the answer, not the chat.
func TestChatCtrlC(t *testing.T) {
	in, out, errOut, sig, done := startChat(t, scriptmodel.Script{Answer: "abc ", Loop: true}, &chatOptions{thinking: true})
	io.WriteString(in, "go on forever\n")
	waitOutput(t, out, "abc abc abc")
	sig <- os.Interrupt
	waitOutput(t, errOut, "stopped]")
	// Still chatting: Ctrl-C at the prompt only explains, Ctrl-D leaves.
	sig <- os.Interrupt
	waitOutput(t, out, "/exit or press Ctrl-D")
	in.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestChatFlags(t *testing.T) {
	for _, args := range [][]string{{"--think", "--no-think"}, {"-n", "-2"}, {"stray"}} {
		if _, stderr, code := smolbot(t, append([]string{"chat"}, args...)...); code != 2 {
			t.Errorf("chat %v: exit %d, %s", args, code, stderr)
		}
	}
	o, err := parseChatFlags(commands["chat"], []string{"--no-think", "--temp", "0", "--seed", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.thinking || o.params.Temperature == nil || *o.params.Temperature != 0 || *o.params.Seed != 5 || o.params.TopP != nil {
		t.Fatalf("options %+v", o)
	}
}

// startServer serves a scripted model over HTTP as `smolbot serve` does.
func startServer(t *testing.T, s scriptmodel.Script, apiKey string) string {
	t.Helper()
	m, err := server.LoadEngine(scriptedModelFile(t, s), server.EngineOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: db, APIKey: apiKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetModel(m)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Shutdown(context.Background())
		m.Close()
		db.Close()
	})
	return ts.URL
}

// startRemoteChat runs the terminal chat against a server (--url).
func startRemoteChat(t *testing.T, o *chatOptions) (in *io.PipeWriter, out, errOut *syncBuffer, sig chan os.Signal, done chan error) {
	t.Helper()
	b, err := newRemoteChat(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return runChatAsync(t, o, b)
}

// TestChatRemote: `chat --url` streams thinking and answer from a running
// server, the server reuses the conversation's prefix on the next turn,
// and Ctrl-C stops a server-side answer without ending the chat.
func TestChatRemote(t *testing.T) {
	base := startServer(t, scriptmodel.Script{Thinking: "Why?", Answer: "Ok! Sure"}, "sesame")
	in, out, errOut, _, done := startRemoteChat(t, &chatOptions{thinking: true, url: base + "/", apiKey: "sesame"})
	waitOutput(t, errOut, "smolbot chat with ")
	if !strings.Contains(errOut.String(), " at "+base) {
		t.Fatalf("greeting: %s", errOut.String())
	}
	io.WriteString(in, "hello\n")
	waitOutput(t, out, "<think>\nWhy?\n</think>\nOk! Sure\n")
	waitOutput(t, errOut, "(0 cached)]")
	io.WriteString(in, "and then?\n")
	waitOutput(t, errOut, "]\n[")
	stats := errOut.String()
	last := stats[strings.LastIndex(stats, "["):]
	if strings.Contains(last, "(0 cached)") || !strings.Contains(last, "2 tokens") {
		t.Fatalf("second turn: %s", last)
	}
	// The scripted model says its think block whatever the prompt; with
	// thinking off the template has pre-filled an empty one, so the server
	// streams it all as answer text (no reasoning_content), as a local chat
	// shows it.
	io.WriteString(in, "/no_think\nquick\n")
	waitOutput(t, out, "(thinking off)\n> <think>Why?</think>Ok! Sure\n")
	io.WriteString(in, "/exit\n")
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	loop := startServer(t, scriptmodel.Script{Answer: "abc ", Loop: true}, "")
	in, out, errOut, sig, done := startRemoteChat(t, &chatOptions{thinking: false, url: strings.TrimPrefix(loop, "http://")})
	io.WriteString(in, "go on forever\n")
	waitOutput(t, out, "abc abc abc")
	sig <- os.Interrupt
	waitOutput(t, errOut, "stopped]")
	io.WriteString(in, "/think\n") // still chatting
	waitOutput(t, out, "(thinking on)")
	in.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestChatRemoteErrors: a wrong key, a server that is not there and a bad
// URL are one clear line each.
func TestChatRemoteErrors(t *testing.T) {
	base := startServer(t, scriptmodel.Script{Answer: "x"}, "sesame")
	if _, err := newRemoteChat(context.Background(), &chatOptions{url: base, apiKey: "wrong"}); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "--api-key") {
		t.Errorf("wrong key: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if _, err := newRemoteChat(context.Background(), &chatOptions{url: dead}); err == nil || !strings.Contains(err.Error(), "cannot reach the server at http://"+dead) {
		t.Errorf("no server: %v", err)
	}
	if _, stderr, code := smolbot(t, "chat", "--url", "ftp://x"); code != 2 || !strings.Contains(stderr, "not an http(s) URL") {
		t.Errorf("bad URL: exit %d, %s", code, stderr)
	}
	if _, stderr, code := smolbot(t, "chat", "--url", base, "-m", "x.gguf"); code != 2 || !strings.Contains(stderr, "does not go with --url") {
		t.Errorf("--url with -m: exit %d, %s", code, stderr)
	}
}
