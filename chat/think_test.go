package chat

import (
	"fmt"
	"testing"
)

type splitCase struct {
	name          string
	mode          ReplyMode
	tags          Tags
	reply         string
	think, answer string
}

var splitCases = []splitCase{
	{"may think: block", ReplyMayThink, Tags{}, "<think>\nreason\n</think>\n\nanswer", "reason", "answer"},
	{"may think: leading space", ReplyMayThink, Tags{}, "  <think>r</think>a", "r", "a"},
	{"may think: none", ReplyMayThink, Tags{}, "no think here", "", "no think here"},
	{"may think: late tag is text", ReplyMayThink, Tags{}, "\nHello <think>x</think>", "", "\nHello <think>x</think>"},
	{"may think: empty block", ReplyMayThink, Tags{}, "<think>\n\n</think>\n", "", ""},
	{"may think: empty block then answer", ReplyMayThink, Tags{}, "<think>\n\n</think>\nHi there", "", "Hi there"},
	{"may think: near miss", ReplyMayThink, Tags{}, "<thinking is", "", "<thinking is"},
	{"may think: unterminated", ReplyMayThink, Tags{}, "<think>unterminated reasoning  ", "unterminated reasoning", ""},
	{"may think: partial close kept", ReplyMayThink, Tags{}, "<think>a </ b</thinker></think>c", "a </ b</thinker>", "c"},
	{"may think: ends in partial close", ReplyMayThink, Tags{}, "<think>a</thi", "a</thi", ""},
	{"may think: lone lt", ReplyMayThink, Tags{}, "<", "", "<"},
	{"may think: only space", ReplyMayThink, Tags{}, " \n", "", " \n"},
	{"may think: empty", ReplyMayThink, Tags{}, "", "", ""},
	{"may think: inner whitespace kept", ReplyMayThink, Tags{}, "<think>a \n b</think>", "a \n b", ""},
	{"may think: unicode", ReplyMayThink, Tags{}, "<think>你好 🦙</think>\n答案", "你好 🦙", "答案"},
	{"in thinking", ReplyInThinking, Tags{}, "reason</think>answer", "reason", "answer"},
	{"in thinking: multiline", ReplyInThinking, Tags{}, "\nmulti\n\nline\n</think>\n\nans <think> x", "multi\n\nline", "ans <think> x"},
	{"in thinking: never closed", ReplyInThinking, Tags{}, "\n\nstill thinking\n", "still thinking", ""},
	{"in thinking: empty", ReplyInThinking, Tags{}, "\n</think>\n", "", ""},
	{"plain: tags are text", ReplyPlain, Tags{}, "<think>x</think>y", "", "<think>x</think>y"},
	{"plain: verbatim", ReplyPlain, Tags{}, "\n answer ", "", "\n answer "},
	{"custom tags", ReplyMayThink, Tags{"<|thought|>", "<|/thought|>"}, "<|thought|> r <think></think> <|/thought|>a", "r <think></think>", "a"},
}

// splitPieces feeds pieces and returns the concatenated deltas.
func splitPieces(c splitCase, pieces []string) (think, answer string) {
	s := NewThinkSplitter(c.mode, c.tags)
	for _, p := range pieces {
		t, a := s.Feed(p)
		think += t
		answer += a
	}
	t, a := s.Flush()
	return think + t, answer + a
}

func TestThinkSplitterEverySplit(t *testing.T) {
	for _, c := range splitCases {
		t.Run(c.name, func(t *testing.T) {
			check := func(desc string, pieces []string) {
				t.Helper()
				th, an := splitPieces(c, pieces)
				if th != c.think || an != c.answer {
					t.Fatalf("%s %q: got (%q, %q), want (%q, %q)", desc, pieces, th, an, c.think, c.answer)
				}
			}
			check("whole", []string{c.reply})
			r := c.reply
			bytes := make([]string, len(r))
			for i := 0; i < len(r); i++ {
				bytes[i] = r[i : i+1] // byte pieces: tokens may split UTF-8 too
			}
			check("bytes", bytes)
			for i := 0; i <= len(r); i++ {
				check("2 pieces", []string{r[:i], r[i:]})
				for j := i; j <= len(r); j++ {
					check("3 pieces", []string{r[:i], r[i:j], r[j:]})
				}
			}
		})
	}
}

// TestThinkSplitterStreams checks text is released as soon as it is decided.
func TestThinkSplitterStreams(t *testing.T) {
	s := NewThinkSplitter(ReplyMayThink, Tags{})
	steps := []struct{ in, think, answer string }{
		{"<th", "", ""},
		{"ink>\n", "", ""},
		{"ab", "ab", ""},
		{" </thi", "", ""},
		{"s is", " </this is", ""},
		{"\n</think>", "", ""},
		{"\n\n", "", ""},
		{"The", "", "The"},
		{" answer <think>", "", " answer <think>"},
	}
	for i, st := range steps {
		th, an := s.Feed(st.in)
		if th != st.think || an != st.answer {
			t.Fatalf("step %d Feed(%q) = (%q, %q), want (%q, %q)", i, st.in, th, an, st.think, st.answer)
		}
	}
	if th, an := s.Flush(); th != "" || an != "" {
		t.Errorf("Flush = (%q, %q)", th, an)
	}
}

func TestThinkSplitterReset(t *testing.T) {
	s := NewThinkSplitter(ReplyInThinking, Tags{})
	s.Feed("abc</thi")
	if !s.InThinking() {
		t.Error("want InThinking")
	}
	s.Reset()
	th, an := s.Feed("x</think>y")
	if th != "x" || an != "y" || s.InThinking() {
		t.Errorf("after Reset: (%q, %q)", th, an)
	}
}

func TestDetectReplyMode(t *testing.T) {
	tests := []struct {
		prompt string
		want   ReplyMode
	}{
		{"<|im_start|>assistant\n", ReplyMayThink},
		{"<|im_start|>assistant\n<think>\n\n</think>\n", ReplyPlain},
		{"<|im_start|>assistant\n<think>\n", ReplyInThinking},
		{"system: use <think> Thought </think>...<|im_start|>assistant\n", ReplyMayThink},
		{"<think>\n\n</think>\nold<|im_end|>\n<|im_start|>assistant\n", ReplyMayThink},
		{"", ReplyMayThink},
	}
	for _, tt := range tests {
		if got := DetectReplyMode(tt.prompt, Tags{}); got != tt.want {
			t.Errorf("DetectReplyMode(%q) = %v, want %v", tt.prompt, got, tt.want)
		}
	}
	if !ReplyMayThink.Thinking() || !ReplyInThinking.Thinking() || ReplyPlain.Thinking() {
		t.Error("ReplyMode.Thinking")
	}
	if fmt.Sprint(ReplyPlain) != "plain" {
		t.Error("String")
	}
}

// FuzzThinkSplitter: the result never depends on how the reply is cut into
// pieces.
func FuzzThinkSplitter(f *testing.F) {
	for _, c := range splitCases {
		f.Add(c.reply, uint8(c.mode), uint16(len(c.reply)/2), uint16(len(c.reply)/3))
	}
	f.Fuzz(func(t *testing.T, reply string, mode uint8, a, b uint16) {
		c := splitCase{mode: ReplyMode(mode % 3), reply: reply}
		c.think, c.answer = Split(reply, c.mode, Tags{})
		i, j := int(a)%(len(reply)+1), int(b)%(len(reply)+1)
		if i > j {
			i, j = j, i
		}
		th, an := splitPieces(c, []string{reply[:i], reply[i:j], reply[j:]})
		if th != c.think || an != c.answer {
			t.Fatalf("pieces %d,%d: (%q, %q) != whole (%q, %q)", i, j, th, an, c.think, c.answer)
		}
	})
}
