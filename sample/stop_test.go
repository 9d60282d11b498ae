package sample

import "testing"

func TestStopMatcherEverySplit(t *testing.T) {
	tests := []struct {
		name  string
		stops []string
		text  string
		out   string
		stop  string
	}{
		{"no stops", nil, "hello world", "hello world", ""},
		{"simple", []string{"END"}, "abc END def", "abc ", "END"},
		{"at start", []string{"END"}, "ENDabc", "", "END"},
		{"near miss", []string{"END"}, "abc EN D ENx", "abc EN D ENx", ""},
		{"partial at end", []string{"</s>"}, "abc </", "abc </", ""},
		{"earliest wins", []string{"world", "lo w"}, "hello world", "hel", "lo w"},
		{"same start: first listed", []string{"ab", "abc"}, "xxabcd", "xx", "ab"},
		{"overlapping prefix", []string{"aab"}, "aaab", "a", "aab"},
		{"multibyte", []string{"答案"}, "你好答案!", "你好", "答案"},
		{"newline stop", []string{"\n\nUser:"}, "Sure.\n\nUse\n\nUser: hi", "Sure.\n\nUse", "\n\nUser:"},
		{"empty stop ignored", []string{""}, "abc", "abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(pieces []string) {
				t.Helper()
				m := NewStopMatcher(tt.stops...)
				var out string
				stopped := false
				for _, p := range pieces {
					s, st := m.Feed(p)
					if stopped && s != "" {
						t.Fatalf("%q: text after stop", pieces)
					}
					out += s
					stopped = st
				}
				out += m.Flush()
				if out != tt.out || m.Stop() != tt.stop || m.Stopped() != (tt.stop != "") {
					t.Fatalf("%q: got (%q, stop %q), want (%q, %q)", pieces, out, m.Stop(), tt.out, tt.stop)
				}
			}
			s := tt.text
			for i := 0; i <= len(s); i++ {
				run([]string{s[:i], s[i:]})
				for j := i; j <= len(s); j++ {
					run([]string{s[:i], s[i:j], s[j:]})
				}
			}
			bytes := make([]string, len(s))
			for i := 0; i < len(s); i++ {
				bytes[i] = s[i : i+1]
			}
			run(bytes)
		})
	}
}

// TestStopMatcherHoldsBack checks text is released as soon as no stop
// string can start in it.
func TestStopMatcherHoldsBack(t *testing.T) {
	m := NewStopMatcher("<|im_end|>", "STOP")
	steps := []struct{ in, out string }{
		{"Hello <|im", "Hello "},
		{"_e", ""},
		{"x", "<|im_ex"},
		{" ST", " "},
		{"OR", "STOR"},
		{"M", "M"},
	}
	for i, st := range steps {
		out, stopped := m.Feed(st.in)
		if out != st.out || stopped {
			t.Fatalf("step %d Feed(%q) = %q, %v; want %q", i, st.in, out, stopped, st.out)
		}
	}
	out, stopped := m.Feed("<|im_end|>tail")
	if out != "" || !stopped || m.Stop() != "<|im_end|>" {
		t.Fatalf("got %q, %v", out, stopped)
	}
	if out, stopped := m.Feed("more"); out != "" || !stopped {
		t.Error("Feed after stop returned text")
	}
	m.Reset()
	if out, stopped := m.Feed("ok"); out != "ok" || stopped {
		t.Errorf("after Reset: %q, %v", out, stopped)
	}
}
