package chat

import "strings"

// Tags are the markers around a reasoning block.
type Tags struct {
	Open, Close string
}

// DefaultTags are SmolLM3's (and Qwen3's, DeepSeek-R1's) reasoning tags.
var DefaultTags = Tags{Open: "<think>", Close: "</think>"}

func (t Tags) orDefault() Tags {
	if t.Open == "" || t.Close == "" {
		return DefaultTags
	}
	return t
}

// ReplyMode says how a model's reply begins, judged from the end of the
// prompt it continues.
type ReplyMode int

const (
	// ReplyMayThink: the prompt leaves reasoning to the model, which may
	// open a think block at the very start of its reply (SmolLM3 /think:
	// the prompt ends with "<|im_start|>assistant\n").
	ReplyMayThink ReplyMode = iota
	// ReplyInThinking: the prompt ends inside an open think block (templates
	// that prefill "<think>\n"), so the reply starts as reasoning.
	ReplyInThinking
	// ReplyPlain: the prompt ends after a closed think block (SmolLM3
	// /no_think prefills "<think>\n\n</think>\n"), so the reply is all answer.
	ReplyPlain
)

// String names the mode for logs.
func (m ReplyMode) String() string {
	switch m {
	case ReplyMayThink:
		return "may-think"
	case ReplyInThinking:
		return "in-thinking"
	case ReplyPlain:
		return "plain"
	}
	return "invalid"
}

// Thinking reports whether the reply is expected to carry reasoning.
func (m ReplyMode) Thinking() bool { return m != ReplyPlain }

// DetectReplyMode reads the end of a rendered prompt. Trailing whitespace is
// ignored; a prompt ending in tags.Close is ReplyPlain; one whose last
// tags.Open comes after its last tags.Close is ReplyInThinking; anything else
// is ReplyMayThink. Earlier balanced blocks (past turns, SmolLM3's default
// system prompt, which quotes "<think> Thought section </think>") do not
// matter. Zero tags mean DefaultTags.
func DetectReplyMode(prompt string, tags Tags) ReplyMode {
	tags = tags.orDefault()
	p := strings.TrimRight(prompt, " \t\r\n")
	if strings.HasSuffix(p, tags.Close) {
		return ReplyPlain
	}
	if strings.LastIndex(p, tags.Open) > strings.LastIndex(p, tags.Close) {
		return ReplyInThinking
	}
	return ReplyMayThink
}

type thinkState uint8

const (
	stStart       thinkState = iota // before the first visible byte; a think block may open
	stThinkLead                     // just inside a think block: drop leading whitespace
	stThink                         // inside a think block
	stContentLead                   // just after a think block: drop leading whitespace
	stContent                       // answer text, passed through
)

// ThinkSplitter separates a streamed reply into reasoning and answer. Feed
// it the decoded text pieces as they arrive; each call returns what can be
// shown now. Text that might be the start of a tag is held back until the
// next piece decides it, so tags split across pieces are handled.
//
// Rules (those of llama.cpp's tag-based reasoning parser): reasoning is
// recognised only at the start of the reply (after optional whitespace) or,
// in ReplyInThinking mode, from the first byte; a think tag later in the
// answer is ordinary text. Whitespace right after the open tag, right before
// the close tag and right after the close tag is dropped, so an empty block
// such as "<think>\n\n</think>\n" yields no reasoning and no answer text.
// A reply that ends inside a think block leaves everything as reasoning.
//
// A ThinkSplitter is not safe for concurrent use.
type ThinkSplitter struct {
	tags  Tags
	mode  ReplyMode
	state thinkState
	buf   string // held-back text, not yet assigned
}

// NewThinkSplitter returns a splitter for a reply that begins in mode
// (see DetectReplyMode). Zero tags mean DefaultTags.
func NewThinkSplitter(mode ReplyMode, tags Tags) *ThinkSplitter {
	s := &ThinkSplitter{tags: tags.orDefault(), mode: mode}
	s.Reset()
	return s
}

// Reset prepares the splitter for a new reply in the same mode.
func (s *ThinkSplitter) Reset() {
	s.buf = ""
	switch s.mode {
	case ReplyInThinking:
		s.state = stThinkLead
	case ReplyPlain:
		s.state = stContent
	default:
		s.state = stStart
	}
}

// InThinking reports whether the text fed so far ends inside a think block.
func (s *ThinkSplitter) InThinking() bool { return s.state == stThinkLead || s.state == stThink }

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimWS(s string) string {
	for len(s) > 0 && isWS(s[0]) {
		s = s[1:]
	}
	return s
}

func trimRightWS(s string) string {
	for len(s) > 0 && isWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// partialSuffix returns the length of the longest suffix of s that is a
// proper prefix of tag (a tag that may be completed by the next piece).
func partialSuffix(s, tag string) int {
	for n := min(len(s), len(tag)-1); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}

// Feed consumes the next piece of the reply and returns the newly decided
// reasoning and answer text (either may be empty).
func (s *ThinkSplitter) Feed(piece string) (thinking, content string) {
	s.buf += piece
	var tb, cb strings.Builder
	for {
		switch s.state {
		case stStart:
			t := trimWS(s.buf)
			if t == "" {
				return tb.String(), cb.String()
			}
			if len(t) < len(s.tags.Open) && strings.HasPrefix(s.tags.Open, t) {
				return tb.String(), cb.String() // could still become the open tag
			}
			if strings.HasPrefix(t, s.tags.Open) {
				s.buf = t[len(s.tags.Open):]
				s.state = stThinkLead
				continue
			}
			s.state = stContent
		case stThinkLead:
			s.buf = trimWS(s.buf)
			if s.buf == "" {
				return tb.String(), cb.String()
			}
			s.state = stThink
		case stThink:
			if i := strings.Index(s.buf, s.tags.Close); i >= 0 {
				tb.WriteString(trimRightWS(s.buf[:i]))
				s.buf = s.buf[i+len(s.tags.Close):]
				s.state = stContentLead
				continue
			}
			// Emit all but a possible partial close tag and the whitespace
			// before it (dropped if the close tag follows).
			cut := len(s.buf) - partialSuffix(s.buf, s.tags.Close)
			for cut > 0 && isWS(s.buf[cut-1]) {
				cut--
			}
			tb.WriteString(s.buf[:cut])
			s.buf = s.buf[cut:]
			return tb.String(), cb.String()
		case stContentLead:
			s.buf = trimWS(s.buf)
			if s.buf == "" {
				return tb.String(), cb.String()
			}
			s.state = stContent
		case stContent:
			cb.WriteString(s.buf)
			s.buf = ""
			return tb.String(), cb.String()
		}
	}
}

// Flush ends the reply and returns whatever was held back: a partial open
// tag or leading whitespace becomes answer text, a partial close tag stays
// reasoning (trailing whitespace of unterminated reasoning is dropped).
func (s *ThinkSplitter) Flush() (thinking, content string) {
	rest := s.buf
	s.buf = ""
	switch s.state {
	case stStart, stContent:
		content = rest
	case stThink:
		thinking = trimRightWS(rest)
	}
	return thinking, content
}

// Split separates a complete reply in one call: Feed followed by Flush.
func Split(reply string, mode ReplyMode, tags Tags) (thinking, content string) {
	s := NewThinkSplitter(mode, tags)
	t1, c1 := s.Feed(reply)
	t2, c2 := s.Flush()
	return t1 + t2, c1 + c2
}
