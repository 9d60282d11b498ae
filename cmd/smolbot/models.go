package main

// Flags and helpers shared by the commands that run a model (serve, chat,
// run, bench, eval, tokenize, inspect), so that they name their options
// the same way and find models the same way.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/hub"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/sample"
	"github.com/smolbot/smolbot/server"
)

// modelHelp describes -m for every command that takes a model.
const modelHelp = "`MODEL`: a GGUF file, a Hugging Face model directory, or a hub reference OWNER/REPO[:TAG] (default " + hub.DefaultRef + ", from the cache)"

// modelFlags are -m, --pull and --cache: which model to run and where the
// downloaded ones are.
type modelFlags struct {
	ref   string
	pull  bool
	cache *string
}

// addModelFlags adds -m, --pull and --cache to fs.
func addModelFlags(fs *flag.FlagSet) *modelFlags {
	m := &modelFlags{}
	fs.StringVar(&m.ref, "m", "", modelHelp)
	fs.BoolVar(&m.pull, "pull", false, "download the model first if it is not in the cache (with a progress bar)")
	m.cache = cacheFlag(fs)
	return m
}

// resolve returns the local path of the model: -m as given when it names
// a file or directory, else the hub reference (default: hub.DefaultRef)
// from the cache, downloaded first with --pull (progress on progress).
// A model missing from the cache fails with the command that fetches it.
func (m *modelFlags) resolve(ctx context.Context, progress io.Writer) (string, error) {
	return hub.Resolve(ctx, m.ref, hub.ResolveOptions{CacheDir: *m.cache, Pull: m.pull, Progress: progress})
}

// loadEngine resolves and loads the model, printing the loader's warnings
// on stderr.
func (m *modelFlags) loadEngine(ctx context.Context, o engine.Options, stderr io.Writer) (*engine.Engine, error) {
	path, err := m.resolve(ctx, stderr)
	if err != nil {
		return nil, err
	}
	e, err := engine.Load(path, o)
	if err != nil {
		return nil, err
	}
	for _, w := range e.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return e, nil
}

// parseFlags parses args with fs. A bad flag gives a one-line usage error
// (main adds the hint to run -h) instead of the flag package's full flag
// list; -h prints the full usage to fs's output.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return err
	case err != nil:
		return usageError("%v", err)
	}
	return nil
}

// parseArgs is parseFlags for commands with positional arguments: flags
// may come before or after them (`inspect FILE --json`), and everything
// after "--" is positional (`tokenize -- "-5 apples"`).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// optFloat is a float flag that remembers whether it was given, so the
// model's own default applies otherwise (and -h shows no made-up default).
type optFloat struct {
	v   float64
	set bool
}

func (o *optFloat) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatFloat(o.v, 'g', -1, 64)
}

func (o *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("want a number ≥ 0")
	}
	o.v, o.set = v, true
	return nil
}

// optInt is an int flag that remembers whether it was given.
type optInt struct {
	v   int64
	set bool
}

func (o *optInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatInt(o.v, 10)
}

func (o *optInt) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("want an integer ≥ 0")
	}
	o.v, o.set = v, true
	return nil
}

// samplingFlags are the sampling options of run and chat. Those not given
// keep the model's defaults (its general.sampling.* metadata over
// SmolLM3's recommended settings: temperature 0.6, top-p 0.95, top-k 40,
// min-p 0.05).
type samplingFlags struct {
	temp, topP, minP optFloat
	topK, seed       optInt
}

func addSamplingFlags(fs *flag.FlagSet) *samplingFlags {
	s := &samplingFlags{}
	fs.Var(&s.temp, "temp", "sampling temperature `T` (0: greedy; default: the model's, 0.6 for SmolLM3)")
	fs.Var(&s.topK, "top-k", "keep the `K` most likely tokens (0: off; default: the model's, 40)")
	fs.Var(&s.topP, "top-p", "keep the most likely tokens up to probability `P` (1: off; default: the model's, 0.95)")
	fs.Var(&s.minP, "min-p", "drop tokens below `P` times the most likely one's probability (0: off; default: the model's, 0.05)")
	fs.Var(&s.seed, "seed", "random seed `N`, for reproducible sampling (default: random)")
	return s
}

// apply overrides p with the flags that were given.
func (s *samplingFlags) apply(p *sample.Params) {
	if s.temp.set {
		p.Temperature = float32(s.temp.v)
	}
	if s.topK.set {
		p.TopK = int(s.topK.v)
	}
	if s.topP.set {
		p.TopP = float32(s.topP.v)
	}
	if s.minP.set {
		p.MinP = float32(s.minP.v)
	}
	if s.seed.set {
		p.Seed = uint64(s.seed.v)
	}
}

// applyServer sets the fields of p for the flags that were given (the
// server's parameters; nil fields keep the model's defaults).
func (s *samplingFlags) applyServer(p *server.GenParams) {
	if s.temp.set {
		p.Temperature = &s.temp.v
	}
	if s.topK.set {
		k := int(s.topK.v)
		p.TopK = &k
	}
	if s.topP.set {
		p.TopP = &s.topP.v
	}
	if s.minP.set {
		p.MinP = &s.minP.v
	}
	if s.seed.set {
		p.Seed = &s.seed.v
	}
}

// engineFlags are the engine options shared by the commands that run a
// model: -t, --ctx and --kv.
type engineFlags struct {
	threads, ctx int
	kv           string
}

func addEngineFlags(fs *flag.FlagSet, kvDefault string) *engineFlags {
	e := &engineFlags{}
	fs.IntVar(&e.threads, "t", 0, "`N` compute threads (0: all cores)")
	fs.IntVar(&e.ctx, "ctx", 0, "context size in `N` tokens (0: 8192, at most the model's)")
	fs.StringVar(&e.kv, "kv", kvDefault, "KV cache `TYPE`: f16, f32 (exact, twice the memory) or q8_0 (half)")
	return e
}

// check validates the values; call after parsing.
func (e *engineFlags) check() error {
	if e.threads < 0 || e.ctx < 0 {
		return usageError("-t and --ctx must be ≥ 0")
	}
	if _, err := kvcache.ParseType(e.kv); err != nil {
		return usageError("--kv: %v", err)
	}
	return nil
}

func (e *engineFlags) options() engine.Options {
	return engine.Options{Threads: e.threads, Context: e.ctx, KVType: e.kv}
}
