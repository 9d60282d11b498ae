package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
)

// fixtureCase is one conversation of tokenizer/chat-template.json with the
// prompt llama.cpp's Jinja engine rendered for it.
type fixtureCase struct {
	Messages            []Message `json:"messages"`
	EnableThinking      bool      `json:"enable_thinking"`
	AddGenerationPrompt *bool     `json:"add_generation_prompt"`
	Prompt              string    `json:"prompt"`
}

func (c fixtureCase) options() Options {
	o := DefaultOptions()
	o.EnableThinking = new(c.EnableThinking)
	if c.AddGenerationPrompt != nil {
		o.AddGenerationPrompt = *c.AddGenerationPrompt
	}
	return o
}

func loadCases(t testing.TB) []fixtureCase {
	t.Helper()
	b, err := os.ReadFile(testutil.Fixture(t, "tokenizer", "chat-template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct{ Cases []fixtureCase }
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) == 0 {
		t.Fatal("no cases in chat-template.json")
	}
	return fx.Cases
}

var (
	smolOnce sync.Once
	smolTpl  *Template
	smolErr  error
)

// smolTemplate loads SmolLM3's template from the fixture GGUF (once).
func smolTemplate(t testing.TB) *Template {
	t.Helper()
	path := testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf")
	smolOnce.Do(func() {
		f, err := gguf.Open(path)
		if err != nil {
			smolErr = err
			return
		}
		defer f.Close()
		smolTpl, smolErr = FromGGUF(f)
	})
	if smolErr != nil {
		t.Fatal(smolErr)
	}
	return smolTpl
}

func TestSmolLM3Fixture(t *testing.T) {
	tpl := smolTemplate(t)
	if tpl.IsChatML() {
		t.Fatal("fixture GGUF has a chat template, got the ChatML fallback")
	}
	if tpl.EOS != "<|im_end|>" || tpl.BOS != "<|begin_of_text|>" {
		t.Errorf("BOS/EOS = %q/%q", tpl.BOS, tpl.EOS)
	}
	cases := loadCases(t)
	pass := 0
	for i, c := range cases {
		t.Run(fmt.Sprintf("case%02d", i), func(t *testing.T) {
			got, err := tpl.Render(c.Messages, c.options())
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Prompt {
				t.Fatalf("prompt mismatch\n got %q\nwant %q", got, c.Prompt)
			}
			pass++
		})
	}
	t.Logf("%d/%d fixture prompts identical", pass, len(cases))
}

// TestSmolLM3Native checks the independent spec rendering (used as the fuzz
// oracle) against llama.cpp's prompts too.
func TestSmolLM3Native(t *testing.T) {
	cases := loadCases(t)
	d := nativeDefaults(t, cases)
	for i, c := range cases {
		got := d.render(c.Messages, c.options())
		if got != c.Prompt {
			t.Errorf("case %d: native mismatch\n got %q\nwant %q", i, got, c.Prompt)
		}
	}
}

func TestSpecWorkedExample(t *testing.T) {
	tpl := smolTemplate(t)
	// Spec §6.3, assembled from its pieces rather than pasted.
	want := "<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nReasoning Mode: /no_think\n\n" +
		"## Custom Instructions\n\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face.\n\n<|im_end|>\n" +
		"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n"
	opts := DefaultOptions()
	opts.EnableThinking = new(false)
	got, err := tpl.Render([]Message{{Role: "user", Content: "Hi"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("got %q", got)
	}
	if m := DetectReplyMode(got, Tags{}); m != ReplyPlain {
		t.Errorf("DetectReplyMode = %v, want plain", m)
	}
	// Thinking left to the template's default: on.
	got, err = tpl.Render([]Message{{Role: "user", Content: "Hi"}}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(got, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") ||
		!strings.Contains(got, "Reasoning Mode: /think\n") {
		t.Errorf("default mode prompt: %q", got)
	}
	if m := DetectReplyMode(got, Tags{}); m != ReplyMayThink {
		t.Errorf("DetectReplyMode = %v, want may-think", m)
	}
}

func TestThinkingEnabled(t *testing.T) {
	tpl := smolTemplate(t)
	sys := func(s string) []Message {
		return []Message{{Role: "system", Content: s}, {Role: "user", Content: "q"}}
	}
	tests := []struct {
		name string
		msgs []Message
		opt  *bool
		want bool
	}{
		{"default", sys("x"), nil, true},
		{"option off", sys("x"), new(false), false},
		{"no_think flag beats option", sys("Be brief. /no_think"), new(true), false},
		{"think flag beats option", sys("/think Explain."), new(false), true},
		{"no_think wins over think", sys("/think /no_think"), new(true), false},
		{"no system", []Message{{Role: "user", Content: "/no_think"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.EnableThinking = tt.opt
			if got := ThinkingEnabled(tt.msgs, opts); got != tt.want {
				t.Errorf("ThinkingEnabled = %v, want %v", got, tt.want)
			}
			p, err := tpl.Render(tt.msgs, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := DetectReplyMode(p, Tags{}).Thinking(); got != tt.want {
				t.Errorf("rendered prompt thinking = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChatML(t *testing.T) {
	tpl, err := FromGGUF(fakeMeta{})
	if err != nil {
		t.Fatal(err)
	}
	if !tpl.IsChatML() {
		t.Fatal("want ChatML fallback")
	}
	msgs := []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}, {Role: "assistant", Content: "a"}}
	got, _ := tpl.Render(msgs, DefaultOptions())
	want := "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n<|im_start|>assistant\n"
	if got != want {
		t.Errorf("got %q", got)
	}
	got, _ = tpl.Render(msgs[:1], Options{})
	if got != "<|im_start|>system\ns<|im_end|>\n" {
		t.Errorf("no generation prompt: %q", got)
	}
}

// fakeMeta is a GGUF without a chat template.
type fakeMeta struct{ tpl string }

func (m fakeMeta) String(key, def string) string {
	if key == "tokenizer.chat_template" && m.tpl != "" {
		return m.tpl
	}
	return def
}
func (fakeMeta) Uint(key string, def uint64) uint64 {
	switch key {
	case "tokenizer.ggml.bos_token_id":
		return 0
	case "tokenizer.ggml.eos_token_id":
		return 7 // out of range: ignored
	}
	return def
}
func (fakeMeta) Strings(string) ([]string, bool) { return []string{"<s>", "</s>"}, true }

func TestFromGGUFTokens(t *testing.T) {
	tpl, err := FromGGUF(fakeMeta{tpl: "{{ bos_token }}|{{ eos_token }}"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Render(nil, DefaultOptions())
	if err != nil || got != "<s>|" {
		t.Errorf("got %q, %v", got, err)
	}
}

// TestJinjaDialect pins the Python semantics we patch into gonja; the
// expectations were produced by Python's jinja2 3.1.6 with HF's settings.
func TestJinjaDialect(t *testing.T) {
	tests := [][2]string{
		{`{{ "a b  c".split()|join("|") }}`, "a|b|c"},
		{`{{ "  a b  c ".split(None, 1)|join("|") }}`, "a|b  c "},
		{`{{ "a,b,,c".split(",")|join("|") }}`, "a|b||c"},
		{`{{ "a,b,,c".split(",", 2)|join("|") }}`, "a|b|,c"},
		{`{{ "a,b,,c".rsplit(",", 1)|join("|") }}`, "a,b,|c"},
		{`{{ " a b  c ".rsplit(None, 1)|join("|") }}`, " a b|c"},
		{`{{ "<think>x</think>y".split("</think>")[-1] }}`, "y"},
		{"{{ \"\\n\\n x \\t\\n\".strip() }}|", "x|"},
		{"{{ \"\\n\\n x \\t\\n\".lstrip() }}|", "x \t\n|"},
		{"{{ \"\\n\\n x \\t\\n\".rstrip() }}|", "\n\n x|"},
		{"{{ \"\\n\\nx\\n\".lstrip(\"\\n\") }}|", "x\n|"},
		{`{{ "xxhixx".strip("x") }}`, "hi"},
		{`{{ "a/think b /think".replace("/think", "") }}`, "a b "},
		{`{{ "aaa".replace("a", "b", 2) }}`, "bba"},
		{`{{ "abc".startswith("ab") }} {{ "abc".endswith("bc") }}`, "True True"},
		{`{{ {"b": 1, "a": [1, 2.5, "x\"y", none, true]}|tojson }}`, `{"b": 1, "a": [1, 2.5, "x\"y", null, true]}`},
		{`{{ {"k": "v", "n": {"m": []}}|tojson(indent=2) }}`, "{\n  \"k\": \"v\",\n  \"n\": {\n    \"m\": []\n  }\n}"},
		{`{{ "<&>'"|tojson }}`, `"<&>'"`},
		{`{% set ns = namespace(n=0) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}`, "10"},
		{`{% for i in range(10, 0, -3) %}{{ i }},{% endfor %}`, "10,7,4,1,"},
		{`{{ x is defined }} {{ y is defined }}`, "True False"},
		{"  {% if true %}\n  yes\n  {% endif %}\nend", "  yes\nend"},
		{`{{ strftime_now("%d %B %Y") }}|{{ strftime_now("%d %b %Y") }}`, "05 March 2026|05 Mar 2026"},
	}
	for i, tt := range tests {
		tpl, err := New(tt[0])
		if err != nil {
			t.Errorf("%d: compile %q: %v", i, tt[0], err)
			continue
		}
		tpl.Now = func() time.Time { return time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC) }
		got, err := tpl.Render(nil, Options{Kwargs: map[string]any{"x": 1}})
		if err != nil {
			t.Errorf("%d: render %q: %v", i, tt[0], err)
			continue
		}
		if got != tt[1] {
			t.Errorf("%d: %q\n got %q\nwant %q", i, tt[0], got, tt[1])
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	if _, err := New("  "); !errors.Is(err, ErrNoTemplate) {
		t.Errorf("empty template: %v", err)
	}
	if _, err := New("{% for %}"); err == nil {
		t.Error("syntax error accepted")
	}
	tpl, err := New(`{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}ok`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render([]Message{{Role: "system", Content: "x"}}, DefaultOptions())
	var te *TemplateError
	if !errors.As(err, &te) || te.Message != "System role not supported" {
		t.Errorf("raise_exception: %v", err)
	}
	if got, err := tpl.Render([]Message{{Role: "user"}}, DefaultOptions()); err != nil || got != "ok" {
		t.Errorf("got %q, %v", got, err)
	}
	// Templates cannot read files.
	tpl, err = New(`{% include "/etc/passwd" %}`)
	if err == nil {
		if _, err = tpl.Render(nil, DefaultOptions()); err == nil {
			t.Error("include of a file succeeded")
		}
	}
	// Runaway loops are bounded.
	tpl, err = New(`{% for i in range(100000000) %}x{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Render(nil, DefaultOptions()); err == nil {
		t.Error("huge range accepted")
	}
}

func TestReasoningContentPassed(t *testing.T) {
	tpl, err := New(`{% for m in messages %}{{ m.role }}:{% if m.reasoning_content is defined %}[{{ m.reasoning_content }}]{% endif %}{{ m.content }};{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tpl.Render([]Message{{Role: "user", Content: "q"}, {Role: "assistant", Content: "a", Thinking: "r"}}, Options{})
	if err != nil || got != "user:q;assistant:[r]a;" {
		t.Errorf("got %q, %v", got, err)
	}
}

// nativeSmol renders SmolLM3's in-tree template from the rules of spec §6.1.
// The two default system prompts are taken from llama.cpp's rendered
// fixture prompts, not written here.
type nativeSmol struct{ thinkDefault, noThinkDefault string }

func nativeDefaults(t testing.TB, cases []fixtureCase) nativeSmol {
	t.Helper()
	var d nativeSmol
	for _, c := range cases {
		if len(c.Messages) == 0 || c.Messages[0].Role == "system" {
			continue
		}
		const start = "## Custom Instructions\n\n"
		i := strings.Index(c.Prompt, start)
		j := strings.Index(c.Prompt, "<|im_end|>")
		if i < 0 || j < i {
			t.Fatal("unexpected fixture prompt layout")
		}
		if c.EnableThinking {
			d.thinkDefault = c.Prompt[i+len(start) : j]
		} else {
			d.noThinkDefault = c.Prompt[i+len(start) : j]
		}
	}
	if d.thinkDefault == "" || d.noThinkDefault == "" {
		t.Fatal("fixture lacks a case without system message in both modes")
	}
	return d
}

func pySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

func (d nativeSmol) render(msgs []Message, opts Options) string {
	think := opts.EnableThinking == nil || *opts.EnableThinking
	custom := ""
	if len(msgs) > 0 && msgs[0].Role == "system" {
		s := msgs[0].Content
		if strings.Contains(s, "/no_think") {
			think = false
		} else if strings.Contains(s, "/think") {
			think = true
		}
		s = strings.ReplaceAll(s, "/no_think", "")
		s = strings.ReplaceAll(s, "/think", "")
		custom = strings.TrimRightFunc(s, pySpace)
	}
	mode := "/no_think"
	if think {
		mode = "/think"
	}
	var b strings.Builder
	b.WriteString("<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nReasoning Mode: " + mode + "\n\n## Custom Instructions\n\n")
	switch {
	case custom != "":
		b.WriteString(custom + "\n\n")
	case think:
		b.WriteString(d.thinkDefault)
	default:
		b.WriteString(d.noThinkDefault)
	}
	b.WriteString("<|im_end|>\n")
	for _, m := range msgs {
		switch m.Role {
		case "user", "tool":
			b.WriteString("<|im_start|>user\n" + m.Content + "<|im_end|>\n")
		case "assistant":
			b.WriteString("<|im_start|>assistant\n")
			if !think {
				b.WriteString("<think>\n\n</think>\n")
			}
			b.WriteString(strings.TrimLeft(m.Content, "\n") + "<|im_end|>\n")
		}
	}
	if opts.AddGenerationPrompt {
		b.WriteString("<|im_start|>assistant\n")
		if !think {
			b.WriteString("<think>\n\n</think>\n")
		}
	}
	return b.String()
}

// FuzzChatTemplate renders random conversations with SmolLM3's template from
// the fixture GGUF: it must never panic or fail, and must equal the spec's
// native rendering.
func FuzzChatTemplate(f *testing.F) {
	f.Add("system", "Be brief. /no_think", "user", "Hi", "assistant", "\nHello", uint8(0), true)
	f.Add("user", "{{ 1 }} {% if %}", "tool", "x", "weird", "\x00\xff", uint8(1), false)
	f.Add("system", " /think\t\u00a0\u2003", "assistant", "\n\n<think>x</think>", "user", "", uint8(2), true)
	f.Fuzz(func(t *testing.T, r1, c1, r2, c2, r3, c3 string, mode uint8, agp bool) {
		tpl := smolTemplate(t)
		d := nativeDefaults(t, loadCasesCached(t))
		msgs := []Message{{Role: r1, Content: c1}, {Role: r2, Content: c2}, {Role: r3, Content: c3}}
		msgs = msgs[:1+int(mode>>2)%3]
		opts := Options{AddGenerationPrompt: agp}
		switch mode & 3 {
		case 1:
			opts.EnableThinking = new(true)
		case 2:
			opts.EnableThinking = new(false)
		}
		got, err := tpl.Render(msgs, opts)
		if err != nil {
			// Errors are fine for templates in general, but SmolLM3's
			// template has no failing path for string contents.
			t.Fatalf("render: %v", err)
		}
		if want := d.render(msgs, opts); got != want {
			t.Fatalf("template and spec disagree\n got %q\nwant %q", got, want)
		}
	})
}

var (
	casesOnce sync.Once
	casesVal  []fixtureCase
)

func loadCasesCached(t testing.TB) []fixtureCase {
	casesOnce.Do(func() { casesVal = loadCases(t) })
	return casesVal
}

// TestRenderConcurrent renders from several goroutines (run with -race).
func TestRenderConcurrent(t *testing.T) {
	tpl := smolTemplate(t)
	cases := loadCases(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range cases {
				c := cases[(i+g)%len(cases)]
				got, err := tpl.Render(c.Messages, c.options())
				if err != nil || got != c.Prompt {
					t.Errorf("goroutine %d case %d: mismatch (%v)", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
