package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/server"
	"github.com/smolbot/smolbot/server/scriptmodel"
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
	r, w := io.Pipe()
	out, errOut = &syncBuffer{}, &syncBuffer{}
	sig = make(chan os.Signal, 1)
	done = make(chan error, 1)
	go func() { done <- runChat(context.Background(), o, m, r, out, errOut, sig) }()
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
