// Package chat turns a conversation into the prompt string a model was
// trained on, and splits a streamed reply into reasoning and answer.
//
// Prompts are rendered by executing the model's own Jinja chat template
// (GGUF key tokenizer.chat_template) the way Hugging Face's
// apply_chat_template and llama.cpp do: trim_blocks and lstrip_blocks on,
// the variables messages, add_generation_prompt, bos_token, eos_token and
// (when set) enable_thinking, plus the globals raise_exception and
// strftime_now. Models without a template get ChatML.
//
// SmolLM3 (spec §6): thinking is on unless Options.EnableThinking is false,
// and a system message containing "/no_think" or "/think" overrides the
// option; the template removes those flags from the system text. In /think
// mode the prompt ends with "<|im_start|>assistant\n" and the model writes
// "<think>" itself; in /no_think mode the prompt ends with an empty, already
// closed think block. DetectReplyMode tells the two apart from the rendered
// prompt, and ThinkSplitter separates the reply accordingly.
package chat

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Message is one turn of a conversation.
type Message struct {
	// Role is "system", "user", "assistant" or "tool" (templates decide
	// what other roles mean; SmolLM3 drops unknown roles).
	Role string
	// Content is the visible text of the turn.
	Content string
	// Thinking is the reasoning of an assistant turn, without think tags.
	// It is passed to templates as reasoning_content; SmolLM3's template
	// ignores it because earlier reasoning is dropped from the prompt.
	Thinking string
}

// Options are the rendering switches besides the messages.
type Options struct {
	// AddGenerationPrompt appends the header of the assistant turn the
	// model should write next. Chat wants true (see DefaultOptions); false
	// renders a finished conversation, e.g. for training or prefix caching.
	AddGenerationPrompt bool
	// EnableThinking is passed as enable_thinking when non-nil. Nil leaves
	// the variable undefined, so the template's default applies (true for
	// SmolLM3). Set it with new(false).
	EnableThinking *bool
	// Kwargs are extra template variables (tools, xml_tools, date_string,
	// custom_instructions, ...). The fixed variables above take precedence.
	Kwargs map[string]any
}

// DefaultOptions are the options for a chat reply: generation prompt on,
// thinking left to the template (and system prompt flags).
func DefaultOptions() Options { return Options{AddGenerationPrompt: true} }

// Template renders conversations for one model. A Template is safe for
// concurrent use once built; do not change its fields while rendering.
type Template struct {
	// Source is the Jinja source, empty for the built-in ChatML renderer.
	Source string
	// BOS and EOS are the texts of the model's BOS and EOS tokens, exposed
	// to the template as bos_token and eos_token (Llama and Mistral
	// templates write them; SmolLM3's does not).
	BOS, EOS string
	// Now is the clock behind strftime_now (templates that print today's
	// date); nil means time.Now. Tests pin it.
	Now func() time.Time

	jinja *exec.Template
}

// ErrNoTemplate is returned by New for an empty template source.
var ErrNoTemplate = errors.New("chat: empty chat template")

// New compiles a Jinja chat template.
func New(source string) (*Template, error) {
	if strings.TrimSpace(source) == "" {
		return nil, ErrNoTemplate
	}
	t := &Template{Source: source}
	tpl, err := compileJinja(source, t.now)
	if err != nil {
		return nil, fmt.Errorf("chat: compiling template: %w", err)
	}
	t.jinja = tpl
	return t, nil
}

// ChatML returns the built-in renderer for models that carry no template:
// "<|im_start|>ROLE\nCONTENT<|im_end|>\n" per message and
// "<|im_start|>assistant\n" as the generation prompt (llama.cpp's chatml).
func ChatML() *Template { return &Template{} }

// Metadata is the part of a GGUF reader FromGGUF needs; *gguf.File
// implements it.
type Metadata interface {
	String(key, def string) string
	Uint(key string, def uint64) uint64
	Strings(key string) ([]string, bool)
}

// FromGGUF builds the model's template from tokenizer.chat_template, or
// ChatML when the key is absent. BOS and EOS are looked up in
// tokenizer.ggml.tokens by tokenizer.ggml.bos_token_id / eos_token_id.
func FromGGUF(md Metadata) (*Template, error) {
	var t *Template
	if src := md.String("tokenizer.chat_template", ""); strings.TrimSpace(src) != "" {
		var err error
		if t, err = New(src); err != nil {
			return nil, err
		}
	} else {
		t = ChatML()
	}
	if tokens, ok := md.Strings("tokenizer.ggml.tokens"); ok {
		const missing = ^uint64(0)
		if id := md.Uint("tokenizer.ggml.bos_token_id", missing); id < uint64(len(tokens)) {
			t.BOS = tokens[id]
		}
		if id := md.Uint("tokenizer.ggml.eos_token_id", missing); id < uint64(len(tokens)) {
			t.EOS = tokens[id]
		}
	}
	return t, nil
}

// IsChatML reports whether t is the built-in ChatML renderer.
func (t *Template) IsChatML() bool { return t.jinja == nil }

func (t *Template) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Render returns the prompt for msgs. Errors come from the template itself
// (raise_exception, e.g. roles that do not alternate) or from template
// constructs that fail on this input; they are never panics.
func (t *Template) Render(msgs []Message, opts Options) (string, error) {
	if t.jinja == nil {
		return renderChatML(msgs, opts), nil
	}
	vars := make(map[string]any, len(opts.Kwargs)+5)
	maps.Copy(vars, opts.Kwargs)
	list := make([]any, len(msgs))
	for i, m := range msgs {
		mm := map[string]any{"role": m.Role, "content": m.Content}
		if m.Thinking != "" {
			mm["reasoning_content"] = m.Thinking
		}
		list[i] = mm
	}
	vars["messages"] = list
	vars["add_generation_prompt"] = opts.AddGenerationPrompt
	vars["bos_token"] = t.BOS
	vars["eos_token"] = t.EOS
	if opts.EnableThinking != nil {
		vars["enable_thinking"] = *opts.EnableThinking
	}
	return executeJinja(t.jinja, vars)
}

func renderChatML(msgs []Message, opts Options) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|im_start|>")
		b.WriteString(m.Role)
		b.WriteByte('\n')
		b.WriteString(m.Content)
		b.WriteString("<|im_end|>\n")
	}
	if opts.AddGenerationPrompt {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String()
}

// ThinkingEnabled reports whether SmolLM3's template renders msgs in /think
// mode: a leading system message containing "/no_think" turns it off, else
// one containing "/think" turns it on, else EnableThinking decides (default
// on). It mirrors the template so callers can tell the mode without
// rendering; DetectReplyMode answers the same from a rendered prompt of any
// template.
func ThinkingEnabled(msgs []Message, opts Options) bool {
	if len(msgs) > 0 && msgs[0].Role == "system" {
		switch {
		case strings.Contains(msgs[0].Content, "/no_think"):
			return false
		case strings.Contains(msgs[0].Content, "/think"):
			return true
		}
	}
	return opts.EnableThinking == nil || *opts.EnableThinking
}
