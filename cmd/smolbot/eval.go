package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"text/tabwriter"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/tensor"
)

func init() {
	c := &command{
		name:    "eval",
		summary: "compute reference logits and greedy continuations (the fixtures' ref-*.json format), or compare with them",
		usage:   "[-m MODEL] --sequences IN.json [--out OUT.json] [--compare REF.json] [--greedy N] [--kv TYPE] [-t N]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runEval(c, args, stdout, stderr) }
	register(c)
}

// evalCase is one sequence's result, as in the fixtures' ref-*.json.
type evalCase struct {
	Tokens           []int32     `json:"tokens"`
	Logits           [][]float32 `json:"logits"`
	Greedy           []int32     `json:"greedy"`
	GreedyLastLogits []float32   `json:"greedy_last_logits"`
}

// evalFile is the fixtures' ref-*.json schema.
type evalFile struct {
	NVocab int        `json:"n_vocab"`
	KVType string     `json:"kv_type"`
	Cases  []evalCase `json:"cases"`
}

func runEval(c *command, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	mf := addModelFlags(fs)
	seqPath := fs.String("sequences", "", "input `FILE`: {\"sequences\": [[ids...], ...]} (required)")
	outPath := fs.String("out", "", "write the results to `FILE` (JSON, the fixtures' ref-*.json schema)")
	refPath := fs.String("compare", "", "compare the results with the reference JSON `FILE`")
	greedyN := fs.Int("greedy", 32, "greedy continuation length in `N` tokens")
	kv := fs.String("kv", "f32", "KV cache `TYPE`: f32 (as the references), f16 or q8_0")
	threads := fs.Int("t", 0, "`N` compute threads (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q", fs.Args())
	}
	if *seqPath == "" {
		return usageError("--sequences IN.json is required")
	}
	if *outPath == "" && *refPath == "" {
		return usageError("nothing to do: give --out and/or --compare")
	}
	if *greedyN < 0 || *threads < 0 {
		return usageError("--greedy and -t must be ≥ 0")
	}
	if _, err := kvcache.ParseType(*kv); err != nil {
		return usageError("--kv: %v", err)
	}
	var in struct {
		Sequences [][]int32 `json:"sequences"`
	}
	if err := readJSON(*seqPath, &in); err != nil {
		return err
	}
	longest := 1
	for _, s := range in.Sequences {
		if len(s) == 0 {
			return fmt.Errorf("%s: empty sequence", *seqPath)
		}
		longest = max(longest, len(s))
	}
	// One batch per sequence, as the references were made.
	e, err := mf.loadEngine(context.Background(), engine.Options{Threads: *threads, KVType: *kv, BatchSize: max(longest, engine.DefaultBatchSize)}, stderr)
	if err != nil {
		return err
	}
	defer e.Close()
	res, err := evaluate(e, in.Sequences, *greedyN, *kv)
	if err != nil {
		return err
	}
	if *outPath != "" {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*outPath, b, 0o644); err != nil {
			return err
		}
	}
	if *refPath != "" {
		var ref evalFile
		if err := readJSON(*refPath, &ref); err != nil {
			return err
		}
		return compareEval(stdout, res, &ref)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// evaluate computes, for each sequence, the logits of every position in
// one batch, then the greedy continuation one token at a time through the
// KV cache and the logits after its last token.
func evaluate(e *engine.Engine, seqs [][]int32, greedyN int, kv string) (*evalFile, error) {
	V := e.Config().Vocab
	res := &evalFile{NVocab: V, KVType: kv}
	for i, toks := range seqs {
		seq, err := e.NewSequence(0)
		if err != nil {
			return nil, err
		}
		all, err := e.Eval(seq, toks, true)
		if err != nil {
			return nil, fmt.Errorf("sequence %d: %w", i, err)
		}
		c := evalCase{Tokens: toks, Greedy: []int32{}}
		for p := range toks {
			c.Logits = append(c.Logits, all[p*V:(p+1)*V])
		}
		last := all[(len(toks)-1)*V:]
		for range greedyN {
			next := int32(tensor.Argmax(last))
			c.Greedy = append(c.Greedy, next)
			if last, err = e.Eval(seq, []int32{next}, false); err != nil {
				return nil, fmt.Errorf("sequence %d greedy: %w", i, err)
			}
		}
		c.GreedyLastLogits = last
		res.Cases = append(res.Cases, c)
	}
	return res, nil
}

// compareEval prints, per case, the largest logit difference, the argmax
// agreement, and how much of the greedy continuation matches.
func compareEval(w io.Writer, got, ref *evalFile) error {
	if got.NVocab != ref.NVocab {
		return fmt.Errorf("vocabulary sizes differ: %d vs reference %d", got.NVocab, ref.NVocab)
	}
	if len(got.Cases) != len(ref.Cases) {
		return fmt.Errorf("%d cases vs %d in the reference", len(got.Cases), len(ref.Cases))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "case\ttokens\tmax|Δlogit|\targmax agree\tgreedy match\tgreedy-last max|Δ|")
	worst := 0.0
	for i := range got.Cases {
		g, r := &got.Cases[i], &ref.Cases[i]
		if len(g.Tokens) != len(r.Tokens) || len(r.Logits) != len(g.Logits) {
			return fmt.Errorf("case %d: %d tokens vs %d in the reference", i, len(g.Tokens), len(r.Tokens))
		}
		md, agree := 0.0, 0
		for p := range g.Logits {
			d, same := diffLogits(g.Logits[p], r.Logits[p])
			md = math.Max(md, d)
			if same {
				agree++
			}
		}
		match := 0
		for match < min(len(g.Greedy), len(r.Greedy)) && g.Greedy[match] == r.Greedy[match] {
			match++
		}
		last := "-"
		if match == len(r.Greedy) && len(g.Greedy) == len(r.Greedy) {
			d, _ := diffLogits(g.GreedyLastLogits, r.GreedyLastLogits)
			last = fmt.Sprintf("%.3g", d)
		}
		worst = math.Max(worst, md)
		fmt.Fprintf(tw, "%d\t%d\t%.3g\t%d/%d\t%d/%d\t%s\n", i, len(g.Tokens), md, agree, len(g.Logits), match, len(r.Greedy), last)
	}
	fmt.Fprintf(tw, "all\t\t%.3g\t\t\t\n", worst)
	return tw.Flush()
}

// diffLogits returns max |a−b| (+Inf on a length mismatch or NaN) and
// whether the argmaxes agree.
func diffLogits(a, b []float32) (float64, bool) {
	if len(a) != len(b) {
		return math.Inf(1), false
	}
	d := 0.0
	for i := range a {
		x := math.Abs(float64(a[i]) - float64(b[i]))
		if math.IsNaN(x) {
			x = math.Inf(1)
		}
		d = math.Max(d, x)
	}
	return d, tensor.Argmax(a) == tensor.Argmax(b)
}
