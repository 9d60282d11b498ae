package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/sample"
)

func init() {
	c := &command{
		name:    "run",
		summary: "generate one reply to a prompt and stream it to stdout",
		usage: "-m MODEL -p PROMPT [--system S] [--think|--no-think] [--raw] [-n N] [--ctx N] [-t THREADS]\n" +
			"       [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S] [--kv f16|f32|q8_0]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runRun(c, args, stdout, stderr) }
	register(c)
}

// runFlags are the parsed flags of `smolbot run`.
type runFlags struct {
	model, prompt, system, kv string
	think, noThink, raw       bool
	n, ctx, threads           int
	temp, topP, minP, repeat  float64
	topK                      int
	seed                      uint64
	set                       map[string]bool // flags given on the command line
}

func runRun(c *command, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	fs := newFlagSet(c)
	fs.StringVar(&f.model, "m", "", "model GGUF file (required)")
	fs.StringVar(&f.prompt, "p", "", "prompt (user message, or raw text with --raw)")
	fs.StringVar(&f.system, "system", "", "system message")
	fs.BoolVar(&f.think, "think", false, "ask for reasoning (SmolLM3 /think)")
	fs.BoolVar(&f.noThink, "no-think", false, "ask for a direct answer (SmolLM3 /no_think)")
	fs.BoolVar(&f.raw, "raw", false, "use the prompt as raw text: no chat template (BOS added if the vocabulary wants it)")
	fs.IntVar(&f.n, "n", 0, "maximum tokens to generate (0: until end of generation or a full context)")
	fs.IntVar(&f.ctx, "ctx", 0, "context size in tokens (0: 8192, capped at the model's)")
	fs.IntVar(&f.threads, "t", 0, "threads (0: all cores)")
	fs.StringVar(&f.kv, "kv", "f16", "KV cache type: f16, f32 or q8_0")
	fs.Float64Var(&f.temp, "temp", 0.6, "temperature (0: greedy)")
	fs.IntVar(&f.topK, "top-k", 40, "top-k (0: off)")
	fs.Float64Var(&f.topP, "top-p", 0.95, "top-p (1: off)")
	fs.Float64Var(&f.minP, "min-p", 0.05, "min-p (0: off)")
	fs.Float64Var(&f.repeat, "repeat-penalty", 1, "repetition penalty over the last 64 tokens (1: off)")
	fs.Uint64Var(&f.seed, "seed", sample.RandomSeed, "sampling seed (default: random)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q (quote the prompt: -p \"...\")", fs.Args())
	}
	if f.model == "" {
		return usageError("-m MODEL is required")
	}
	if f.think && f.noThink {
		return usageError("--think and --no-think exclude each other")
	}
	if f.raw && (f.think || f.noThink || f.system != "") {
		return usageError("--raw takes the prompt as is: no --system, --think or --no-think")
	}
	if f.n < 0 || f.ctx < 0 {
		return usageError("-n and --ctx must be ≥ 0")
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })

	e, err := engine.Load(f.model, engine.Options{Threads: f.threads, KVType: f.kv, Context: f.ctx})
	if err != nil {
		return err
	}
	defer e.Close()
	if err := e.TemplateError(); err != nil && !f.raw {
		fmt.Fprintf(stderr, "warning: the model's chat template does not compile (%v); using ChatML\n", err)
	}
	ids, promptText, err := buildPrompt(e, &f)
	if err != nil {
		return err
	}
	seq, err := e.NewSequence(f.ctx)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	out := newReplyWriter(stdout, stderr, f.raw, promptText)
	res, err := e.Generate(ctx, seq, ids, engine.GenParams{Sampling: samplingParams(e, &f), MaxTokens: f.n},
		func(t engine.Token) error { return out.write(t.Text) })
	if ferr := out.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	printStats(stderr, &res)
	return nil
}

// buildPrompt returns the prompt tokens and the text they encode.
func buildPrompt(e *engine.Engine, f *runFlags) ([]int32, string, error) {
	tok := e.Tokenizer()
	text := f.prompt
	if !f.raw {
		var msgs []chat.Message
		if f.system != "" {
			msgs = append(msgs, chat.Message{Role: "system", Content: f.system})
		}
		msgs = append(msgs, chat.Message{Role: "user", Content: f.prompt})
		opts := chat.DefaultOptions()
		if f.think || f.noThink {
			opts.EnableThinking = new(f.think)
		}
		var err error
		if text, err = e.Template().Render(msgs, opts); err != nil {
			return nil, "", fmt.Errorf("chat template: %w", err)
		}
	}
	var ids []int32
	// Add BOS when the vocabulary asks for it, unless the template already
	// wrote it (or, raw, when there is no text at all: generation needs a
	// first token).
	bos := tok.BOS()
	if bos >= 0 && (tok.AddBOS() || (f.raw && text == "")) && !strings.HasPrefix(text, tok.Text(bos)) {
		ids = append(ids, bos)
	}
	ids = tok.AppendEncode(ids, text, true)
	if len(ids) == 0 {
		return nil, "", fmt.Errorf("empty prompt (the vocabulary has no BOS to start from)")
	}
	return ids, text, nil
}

// samplingParams starts from the model's defaults and applies the flags
// given on the command line.
func samplingParams(e *engine.Engine, f *runFlags) sample.Params {
	p := e.SamplingDefaults()
	if f.set["temp"] {
		p.Temperature = float32(f.temp)
	}
	if f.set["top-k"] {
		p.TopK = f.topK
	}
	if f.set["top-p"] {
		p.TopP = float32(f.topP)
	}
	if f.set["min-p"] {
		p.MinP = float32(f.minP)
	}
	if f.set["repeat-penalty"] {
		p.RepeatPenalty = float32(f.repeat)
	}
	p.Seed = f.seed
	return p
}

// replyWriter streams a reply: the answer to stdout and, in chat mode, the
// reasoning to stderr (dimmed on a terminal).
type replyWriter struct {
	stdout, stderr io.Writer
	split          *chat.ThinkSplitter // nil in raw mode
	dim            bool
	inThink        bool
	trimSpace      bool // drop one leading space of the output
	started        bool
}

func newReplyWriter(stdout, stderr io.Writer, raw bool, prompt string) *replyWriter {
	w := &replyWriter{stdout: stdout, stderr: stderr, dim: isTTY(stderr)}
	if raw {
		// Generating from BOS alone: SentencePiece marks the first word
		// with a space, which detokenizers drop at the start of a text.
		w.trimSpace = prompt == ""
	} else {
		w.split = chat.NewThinkSplitter(chat.DetectReplyMode(prompt, chat.Tags{}), chat.Tags{})
	}
	return w
}

func (w *replyWriter) write(piece string) error {
	if w.split == nil {
		return w.answer(piece)
	}
	thinking, content := w.split.Feed(piece)
	if thinking != "" {
		if w.dim && !w.inThink {
			fmt.Fprint(w.stderr, "\x1b[2m")
		}
		w.inThink = true
		if _, err := io.WriteString(w.stderr, thinking); err != nil {
			return err
		}
	}
	if content != "" {
		w.endThink()
		return w.answer(content)
	}
	return nil
}

func (w *replyWriter) answer(s string) error {
	if w.trimSpace && !w.started && s != "" {
		s = strings.TrimPrefix(s, " ")
	}
	if s != "" {
		w.started = true
	}
	_, err := io.WriteString(w.stdout, s)
	return err
}

func (w *replyWriter) endThink() {
	if w.inThink {
		if w.dim {
			fmt.Fprint(w.stderr, "\x1b[0m")
		}
		fmt.Fprintln(w.stderr)
		w.inThink = false
	}
}

func (w *replyWriter) flush() error {
	w.endThink()
	_, err := fmt.Fprintln(w.stdout)
	return err
}

func printStats(w io.Writer, r *engine.Result) {
	rate := func(n int, d float64) string {
		if d <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(n)/d)
	}
	evaluated := r.PromptTokens - r.CachedTokens
	fmt.Fprintf(w, "prompt: %d tokens (%d cached) in %.2f s, %s tok/s; generated: %d tokens in %.2f s, %s tok/s; stop: %s\n",
		r.PromptTokens, r.CachedTokens, r.PrefillDuration.Seconds(), rate(evaluated, r.PrefillDuration.Seconds()),
		r.GenTokens, r.GenDuration.Seconds(), rate(r.GenTokens, r.GenDuration.Seconds()), r.StopReason)
}
