package sample

import "strings"

// StopMatcher finds stop strings in streamed text. Generated text arrives
// in pieces (one per token) and a stop string may span several; the matcher
// holds back any tail that could be the start of a stop string until the
// next piece settles it, so the caller never shows text that turns out to
// belong to a stop string. The token limit (max tokens) is the engine's job.
//
// A StopMatcher is not safe for concurrent use.
type StopMatcher struct {
	stops   []string
	held    string
	matched int // index into stops, -1 while none
}

// NewStopMatcher returns a matcher for stops; empty strings are ignored.
func NewStopMatcher(stops ...string) *StopMatcher {
	m := &StopMatcher{matched: -1}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// Feed adds the next piece and returns the text that is now safe to emit.
// When a stop string is found, text is what precedes it, stopped is true and
// the stop string and anything after it are discarded; later calls return
// ("", true). Of several stop strings the one that starts first wins, then
// the one listed first.
func (m *StopMatcher) Feed(piece string) (text string, stopped bool) {
	if m.matched >= 0 {
		return "", true
	}
	buf := m.held + piece
	best, at := -1, len(buf)
	for i, s := range m.stops {
		if j := strings.Index(buf, s); j >= 0 && j < at {
			best, at = i, j
		}
	}
	if best >= 0 {
		m.matched = best
		m.held = ""
		return buf[:at], true
	}
	hold := 0
	for _, s := range m.stops {
		hold = max(hold, partialSuffix(buf, s))
	}
	m.held = buf[len(buf)-hold:]
	return buf[:len(buf)-hold], false
}

// partialSuffix returns the length of the longest suffix of s that is a
// proper prefix of stop.
func partialSuffix(s, stop string) int {
	for n := min(len(s), len(stop)-1); n > 0; n-- {
		if strings.HasSuffix(s, stop[:n]) {
			return n
		}
	}
	return 0
}

// Flush ends the stream and returns the held-back text, which no stop
// string completed ("" after a match).
func (m *StopMatcher) Flush() string {
	h := m.held
	m.held = ""
	return h
}

// Stopped reports whether a stop string was found.
func (m *StopMatcher) Stopped() bool { return m.matched >= 0 }

// Stop returns the stop string that was found, or "".
func (m *StopMatcher) Stop() string {
	if m.matched < 0 {
		return ""
	}
	return m.stops[m.matched]
}

// Reset prepares the matcher for a new stream with the same stop strings.
func (m *StopMatcher) Reset() {
	m.held = ""
	m.matched = -1
}
