// Package engine is smolbot's inference API: it loads a model (a GGUF file
// or a Hugging Face safetensors directory) with its tokenizer and chat
// template, keeps per-conversation KV caches, and generates text. The
// server, the CLI and the benchmarks use it; nothing below it knows about
// prompts, sampling or streaming.
//
// # Usage
//
//	e, err := engine.Load("model.gguf", engine.Options{Threads: 2})
//	...
//	defer e.Close()
//	seq, err := e.NewSequence(0) // default context
//	prompt, _ := e.Template().Render(msgs, chat.DefaultOptions())
//	ids := e.Tokenizer().Encode(prompt, true)
//	res, err := e.Generate(ctx, seq, ids, engine.GenParams{Sampling: e.SamplingDefaults(), MaxTokens: 512},
//		func(t engine.Token) error { fmt.Print(t.Text); return nil })
//
// # Sequences and KV reuse
//
// A Sequence is one conversation: a KV cache plus the token history it
// holds. Generate takes the full token list of the conversation so far;
// it keeps the longest prefix the cache already holds (truncating the
// rest) and prefills only the new tokens, so each chat turn pays only for
// its own text. At least one token is always evaluated, so a prompt equal
// to the cached history re-evaluates its last token. A prompt longer than
// the sequence's context fails with ErrContextFull before any work.
//
// # Concurrency
//
// One Engine serves many sequences. All model work runs on a single
// scheduler goroutine that owns the worker pool: each step it batches the
// pending single-token decode steps of every active sequence into one
// forward pass (the weights are streamed once for all of them) together
// with at most one prompt chunk, in arrival order, so long prompts cannot
// starve ongoing generations and vice versa. A decode step may carry a
// speculative draft (see LookupParams: prompt-lookup drafts verified in the
// same pass, at most MaxDecodeBatch draft tokens per step across all
// sequences). Generate and Eval may be called from any number of
// goroutines; calls on the same Sequence are serialized.
//
// # Speculative decoding
//
// For greedy requests Generate drafts the tokens that followed the latest
// occurrence of the last few tokens in the prompt or the answer so far, and
// verifies the whole draft in one forward pass; answers that quote their
// context (edits, summaries) then cost one weight pass for many tokens. The
// emitted tokens are exactly those plain greedy decoding gives: generated
// tokens and drafts are computed with the single-token arithmetic
// (model.Span.Decode) whatever else shares the forward pass, while prompts
// take llama.cpp's batch arithmetic. The same rule makes a sequence's
// output independent of the other sequences decoded in the same step.
//
// # Allocation
//
// Steady-state decoding allocates nothing in the model or the scheduler:
// workspaces, caches (one page per kvcache.PageCells tokens) and logits
// buffers are reused. Generate's text handling allocates the small strings
// it hands to the callback.
package engine
