package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/server"
	"github.com/smolbot/smolbot/store"
)

func init() {
	c := &command{
		name:    "chat",
		summary: "chat with a model in the terminal (/think, /no_think, /system, /clear, /exit)",
		usage: "[-m MODEL] [--pull] [--system TEXT] [--think|--no-think] [-n N]\n" +
			"       [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed N] [-t N] [--ctx N] [--kv TYPE]\n" +
			"       or, against a running server: --url http://HOST:PORT [--api-key KEY] [same chat flags]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error {
		o, err := parseChatFlags(c, args, stderr)
		if err != nil {
			return err
		}
		sig := make(chan os.Signal, 1)
		if o.url != "" {
			b, err := newRemoteChat(context.Background(), o)
			if err != nil {
				return err
			}
			signal.Notify(sig, os.Interrupt)
			defer signal.Stop(sig)
			return runChat(context.Background(), o, b, os.Stdin, stdout, stderr, sig)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		path, err := o.model.resolve(ctx, stderr) // Ctrl-C here stops a download
		stop()
		if err != nil {
			return err
		}
		m, err := openModel(path, modelOptions{threads: o.threads, kv: o.kv, warn: stderr})
		if err != nil {
			return err
		}
		defer m.Close()
		// Ctrl-C stops the answer being written, not the program.
		signal.Notify(sig, os.Interrupt)
		defer signal.Stop(sig)
		b, err := newLocalChat(o, m)
		if err != nil {
			return err
		}
		defer b.close()
		return runChat(context.Background(), o, b, os.Stdin, stdout, stderr, sig)
	}
	register(c)
}

// chatOptions are the parsed flags of `smolbot chat`.
type chatOptions struct {
	model    *modelFlags
	system   string
	thinking bool
	ctx      int
	threads  int
	kv       string
	params   server.GenParams
	color    bool   // dim the thinking text (set when stdout is a terminal)
	url      string // a running smolbot (or other OpenAI-compatible) server
	apiKey   string
}

func parseChatFlags(c *command, args []string, stderr io.Writer) (*chatOptions, error) {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	o := &chatOptions{}
	o.model = addModelFlags(fs)
	fs.StringVar(&o.system, "system", "", "system prompt `TEXT` (/system changes it during the chat)")
	think := fs.Bool("think", false, "let the model think before answering (the default; /think)")
	noThink := fs.Bool("no-think", false, "answer without thinking (/no_think)")
	fs.IntVar(&o.params.MaxTokens, "n", 0, "at most `N` tokens per answer (0: up to the context)")
	fs.StringVar(&o.url, "url", "", "chat with the server at `URL` (smolbot serve, or any OpenAI-compatible /v1/chat/completions) instead of loading a model")
	fs.StringVar(&o.apiKey, "api-key", os.Getenv("SMOLBOT_API_KEY"), "with --url, the server's API `KEY` (default $SMOLBOT_API_KEY)")
	sampling := addSamplingFlags(fs)
	eng := addEngineFlags(fs, "f16")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if o.url != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, local := range []string{"m", "pull", "t", "ctx", "kv"} {
			if set[local] {
				return nil, usageError("-%s loads a model here: it does not go with --url", local)
			}
		}
	}
	if fs.NArg() != 0 {
		return nil, usageError("unexpected arguments %q", fs.Args())
	}
	if *think && *noThink {
		return nil, usageError("--think and --no-think exclude each other")
	}
	if o.params.MaxTokens < 0 {
		return nil, usageError("-n must be ≥ 0")
	}
	if err := eng.check(); err != nil {
		return nil, err
	}
	o.ctx, o.threads, o.kv = eng.ctx, eng.threads, eng.kv
	o.thinking = !*noThink
	sampling.applyServer(&o.params)
	o.color = isTerminalWriter(os.Stdout)
	return o, nil
}

const chatHelp = `Type a message and press Enter. End a line with \ to continue it on the next.
Commands: /think, /no_think (thinking on/off), /system TEXT (set; /system alone shows it,
/system - clears it), /clear (forget the conversation), /exit (or Ctrl-D).
Ctrl-C stops the answer being written.`

// A chatBackend produces the answers of a terminal chat: a model loaded in
// this process (localChat) or a server's chat completions API (remoteChat).
type chatBackend interface {
	// describe names the model and its context, for the greeting.
	describe() string
	// turn generates the answer to history (whose last message is the
	// user's), calling show with each piece of thinking and answer text as
	// it arrives, until done or ctx is cancelled (then it returns what it
	// has and ctx's error).
	turn(ctx context.Context, system string, thinking bool, history []chat.Message, show func(thinking, content string)) (store.Stats, error)
}

// runChat is the terminal chat loop. interrupts stops the current answer;
// the partial answer stays in the conversation.
func runChat(ctx context.Context, o *chatOptions, b chatBackend, in io.Reader, out, errOut io.Writer, interrupts <-chan os.Signal) error {
	fmt.Fprintf(errOut, "smolbot chat with %s (thinking %s)\n%s\n", b.describe(), onOff(o.thinking), chatHelp)

	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		readErr <- sc.Err()
		close(lines)
	}()

	var history []chat.Message
	system := o.system
	thinking := o.thinking
	prompt := func() { fmt.Fprint(out, "> ") }
	for {
		prompt()
		var text string
		for more := true; more; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-interrupts:
				fmt.Fprintln(out, "\n(Ctrl-C stops an answer; type /exit or press Ctrl-D to leave)")
				prompt()
				continue
			case line, ok := <-lines:
				if !ok {
					fmt.Fprintln(out)
					return <-readErr
				}
				if cont, found := strings.CutSuffix(line, `\`); found {
					text += cont + "\n"
					fmt.Fprint(out, ". ")
					continue
				}
				text += line
				more = false
			}
		}
		text = strings.TrimSpace(text)
		switch cmd, arg, _ := strings.Cut(text, " "); cmd {
		case "":
			continue
		case "/exit", "/quit", "/bye":
			return nil
		case "/help", "/?":
			fmt.Fprintln(out, chatHelp)
			continue
		case "/think":
			thinking = true
			fmt.Fprintln(out, "(thinking on)")
			continue
		case "/no_think":
			thinking = false
			fmt.Fprintln(out, "(thinking off)")
			continue
		case "/clear":
			history = nil
			fmt.Fprintln(out, "(conversation cleared)")
			continue
		case "/system":
			switch arg = strings.TrimSpace(arg); arg {
			case "":
				if system == "" {
					fmt.Fprintln(out, "(no system prompt: the model's default)")
				} else {
					fmt.Fprintf(out, "(system prompt: %s)\n", system)
				}
			case "-":
				system = ""
				fmt.Fprintln(out, "(system prompt cleared)")
			default:
				system = arg
				fmt.Fprintln(out, "(system prompt set)")
			}
			continue
		}
		if strings.HasPrefix(text, "/") && !strings.Contains(text, " ") {
			fmt.Fprintf(out, "(unknown command %s; /help lists them)\n", text)
			continue
		}
		history = append(history, chat.Message{Role: "user", Content: text})
		answer, err := chatTurn(ctx, o, b, system, thinking, history, out, errOut, interrupts)
		if err != nil {
			history = history[:len(history)-1]
			fmt.Fprintf(errOut, "error: %v\n", err)
			continue
		}
		history = append(history, answer)
	}
}

// chatTurn generates one answer and prints it: thinking dimmed (or between
// <think> tags when not on a terminal), then the answer, then the stats.
func chatTurn(ctx context.Context, o *chatOptions, b chatBackend, system string, thinking bool,
	history []chat.Message, out, errOut io.Writer, interrupts <-chan os.Signal) (chat.Message, error) {
	var answer, reasoning strings.Builder
	inThink := false
	show := func(th, c string) {
		if th != "" {
			if !inThink {
				inThink = true
				if o.color {
					fmt.Fprint(out, "\x1b[2m")
				} else {
					fmt.Fprint(out, "<think>\n")
				}
			}
			fmt.Fprint(out, th)
			reasoning.WriteString(th)
		}
		if c != "" {
			if inThink {
				inThink = false
				if o.color {
					fmt.Fprint(out, "\x1b[0m\n\n")
				} else {
					fmt.Fprint(out, "\n</think>\n")
				}
			}
			fmt.Fprint(out, c)
			answer.WriteString(c)
		}
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		st  store.Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := b.turn(gctx, system, thinking, history, show)
		done <- result{st, err}
	}()
	var r result
	stopped := false
	select {
	case r = <-done:
	case <-interrupts:
		cancel()
		stopped = true
		r = <-done
	}
	if inThink && o.color {
		fmt.Fprint(out, "\x1b[0m")
	}
	fmt.Fprintln(out)
	if r.err != nil && !(stopped && gctx.Err() != nil) {
		return chat.Message{}, r.err
	}
	st := r.st
	line := fmt.Sprintf("%d tokens", st.GenTokens)
	if tps := st.TokensPerSecond(); tps > 0 {
		line += fmt.Sprintf(" · %.1f tok/s", tps)
	}
	line += fmt.Sprintf(" · first token %d ms · prompt %d tokens (%d cached)", st.TTFT.Milliseconds(), st.PromptTokens, st.CachedTokens)
	if stopped {
		line += " · stopped"
	}
	fmt.Fprintf(errOut, "[%s]\n", line)
	return chat.Message{Role: "assistant", Content: answer.String(), Thinking: reasoning.String()}, nil
}

// localChat runs a model in this process. The conversation's KV cache is
// kept between turns (one sequence; the engine reuses the common prefix),
// so a turn only processes its own new tokens.
type localChat struct {
	o    *chatOptions
	m    server.Model
	seq  server.Sequence
	nCtx int
}

func newLocalChat(o *chatOptions, m server.Model) (*localChat, error) {
	nCtx := o.ctx
	if nCtx == 0 {
		nCtx = server.DefaultContext
	}
	nCtx = min(nCtx, m.Info().ContextLength)
	seq, err := m.NewSequence(nCtx)
	if err != nil {
		return nil, err
	}
	return &localChat{o: o, m: m, seq: seq, nCtx: nCtx}, nil
}

func (l *localChat) close() { l.seq.Free() }

func (l *localChat) describe() string {
	return fmt.Sprintf("%s (context %d tokens)", l.m.Info().ID, l.nCtx)
}

func (l *localChat) turn(ctx context.Context, system string, thinking bool, history []chat.Message, show func(th, c string)) (store.Stats, error) {
	msgs := history
	if system != "" {
		msgs = append([]chat.Message{{Role: "system", Content: system}}, history...)
	}
	opts := chat.DefaultOptions()
	opts.EnableThinking = &thinking
	text, err := l.m.Template().Render(msgs, opts)
	if err != nil {
		return store.Stats{}, err
	}
	ids, err := l.m.Tokenize(text)
	if err != nil {
		return store.Stats{}, err
	}
	if n := len(ids); n >= l.nCtx {
		return store.Stats{}, fmt.Errorf("the conversation (%d tokens) no longer fits the context: /clear to start again, or restart with a larger --ctx", n)
	}
	split := chat.NewThinkSplitter(chat.DetectReplyMode(text, chat.DefaultTags), chat.DefaultTags)
	res, err := l.m.Generate(ctx, l.seq, ids, l.o.params, func(t server.Token) error {
		show(split.Feed(t.Text))
		return nil
	})
	show(split.Flush())
	return store.Stats{PromptTokens: res.PromptTokens, CachedTokens: res.CachedTokens, GenTokens: res.GenTokens,
		TTFT: res.TimeToFirstToken, Duration: res.Duration, StopReason: res.StopReason}, err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
