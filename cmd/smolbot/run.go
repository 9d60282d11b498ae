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
		usage: "[-m MODEL] [--pull] [-p PROMPT] [--system TEXT] [--think|--no-think] [--raw] [-n N]\n" +
			"       [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed N] [-t N] [--ctx N] [--kv TYPE]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error {
		var stdin io.Reader = os.Stdin
		if st, err := os.Stdin.Stat(); err != nil || st.Mode()&os.ModeCharDevice != 0 {
			stdin = nil // a terminal (or nothing): -p is required
		}
		return runRun(c, args, stdin, stdout, stderr)
	}
	register(c)
}

// runFlags are the parsed flags of `smolbot run`.
type runFlags struct {
	model               *modelFlags
	eng                 *engineFlags
	sampling            *samplingFlags
	repeat              optFloat
	prompt, system      string
	think, noThink, raw bool
	n                   int
}

// runRun runs `smolbot run`; stdin, if not nil, supplies the prompt when
// -p is not given.
func runRun(c *command, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var f runFlags
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	f.model = addModelFlags(fs)
	fs.StringVar(&f.prompt, "p", "", "`PROMPT`: the user message, or raw text with --raw (default: read from stdin when it is not a terminal)")
	fs.StringVar(&f.system, "system", "", "system message `TEXT`")
	fs.BoolVar(&f.think, "think", false, "ask for reasoning (SmolLM3 /think; the model's default)")
	fs.BoolVar(&f.noThink, "no-think", false, "ask for a direct answer (SmolLM3 /no_think)")
	fs.BoolVar(&f.raw, "raw", false, "use the prompt as raw text: no chat template (BOS added if the vocabulary wants it)")
	fs.IntVar(&f.n, "n", 0, "generate at most `N` tokens (0: until the end of the answer or a full context)")
	f.sampling = addSamplingFlags(fs)
	fs.Var(&f.repeat, "repeat-penalty", "penalize the tokens of the last 64 by `R` (1: off, the default)")
	f.eng = addEngineFlags(fs, "f16")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usageError("unexpected arguments %q (quote the prompt: -p \"...\")", fs.Args())
	case f.think && f.noThink:
		return usageError("--think and --no-think exclude each other")
	case f.raw && (f.think || f.noThink || f.system != ""):
		return usageError("--raw takes the prompt as is: no --system, --think or --no-think")
	case f.n < 0:
		return usageError("-n must be ≥ 0")
	case f.repeat.set && f.repeat.v == 0:
		return usageError("--repeat-penalty must be > 0")
	}
	if err := f.eng.check(); err != nil {
		return err
	}
	pSet := false
	fs.Visit(func(fl *flag.Flag) { pSet = pSet || fl.Name == "p" })
	if !pSet {
		if stdin == nil {
			return usageError("-p PROMPT is required (or pipe the prompt on stdin)")
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		f.prompt = strings.TrimSuffix(string(b), "\n")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	e, err := f.model.loadEngine(ctx, f.eng.options(), stderr)
	if err != nil {
		return err
	}
	defer e.Close()
	if _, ok := e.File().Get("tokenizer.chat_template"); !ok && !f.raw && f.system == "" && !f.think && !f.noThink {
		// As llama-cli: a model without a chat template (a base model such
		// as stories260K) continues the text rather than answering a
		// ChatML conversation it was never trained on.
		f.raw = true
		fmt.Fprintln(stderr, "note: the model has no chat template, so the prompt is continued as raw text (--system, --think or --no-think use ChatML)")
	}
	if err := e.TemplateError(); err != nil && !f.raw {
		fmt.Fprintf(stderr, "warning: the model's chat template does not compile (%v); using ChatML\n", err)
	}
	ids, promptText, err := buildPrompt(e, &f)
	if err != nil {
		return err
	}
	seq, err := e.NewSequence(f.eng.ctx)
	if err != nil {
		return err
	}

	out := newReplyWriter(stdout, stderr, f.raw, promptText)
	res, err := e.Generate(ctx, seq, ids, engine.GenParams{Sampling: samplingParams(e, &f), MaxTokens: f.n},
		func(t engine.Token) error { return out.write(t.Text) })
	if ferr := out.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	// Ctrl-C ends the answer with stop reason "cancelled" in the stats.
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
	f.sampling.apply(&p)
	if f.repeat.set {
		p.RepeatPenalty = float32(f.repeat.v)
	}
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
