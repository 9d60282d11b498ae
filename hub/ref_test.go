package hub

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	cases := []struct {
		in   string
		want Ref
		str  string
	}{
		{"unsloth/SmolLM3-3B-GGUF:Q4_K_M", Ref{Repo: "unsloth/SmolLM3-3B-GGUF", Revision: "main", Tag: "Q4_K_M"}, ""},
		{"unsloth/SmolLM3-3B-GGUF", Ref{Repo: "unsloth/SmolLM3-3B-GGUF", Revision: "main"}, ""},
		{"o/r:Model-Q8_0.GGUF", Ref{Repo: "o/r", Revision: "main", File: "Model-Q8_0.GGUF"}, ""},
		{"o/r@v1.0:sub/dir/m.gguf", Ref{Repo: "o/r", Revision: "v1.0", File: "sub/dir/m.gguf"}, ""},
		{"https://huggingface.co/o/r/resolve/main/m.gguf", Ref{Repo: "o/r", Revision: "main", File: "m.gguf"}, "o/r:m.gguf"},
		{"https://huggingface.co/o/r/blob/dev/a%20b.gguf", Ref{Repo: "o/r", Revision: "dev", File: "a b.gguf"}, "o/r@dev:a b.gguf"},
		{"https://example.com/files/m.gguf", Ref{URL: "https://example.com/files/m.gguf"}, ""},
		{"https://mirror.example/o/r/resolve/main/m.gguf", Ref{Repo: "o/r", Revision: "main", File: "m.gguf", URL: "https://mirror.example/o/r/resolve/main/m.gguf"}, ""},
	}
	for _, c := range cases {
		got, err := ParseRef(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		want := c.str
		if want == "" {
			want = c.in
		}
		if got.String() != want {
			t.Errorf("%q: String() = %q, want %q", c.in, got.String(), want)
		}
	}
	for _, bad := range []string{"", "noslash", "a/b/c", "o/r:", "o/..:m.gguf", "../x:m.gguf", "o/r:../m.gguf", "o/r:/abs.gguf",
		"o/r:a//b.gguf", "o/r@:Q4", "a--b/c", "a/b..c", ".x/y", "https://", "https://example.com/", "o r/x", "o/r:Q4 K"} {
		if r, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", bad, r)
		}
	}
}

func TestMatchTag(t *testing.T) {
	files := []string{"README.md", "SmolLM3-3B-Q4_K_M.gguf", "SmolLM3-3B-UD-Q4_K_M.gguf", "SmolLM3-3B-Q4_K_S.gguf",
		"SmolLM3-3B-Q8_0.gguf", "mmproj-F16.gguf", "BF16/SmolLM3-3B-BF16-00001-of-00002.gguf", "BF16/SmolLM3-3B-BF16-00002-of-00002.gguf",
		"old/smollm3.Q5_K_M.gguf"}
	cases := map[string]string{
		"Q4_K_M": "SmolLM3-3B-Q4_K_M.gguf", "q4_k_m": "SmolLM3-3B-Q4_K_M.gguf", "Q8_0": "SmolLM3-3B-Q8_0.gguf",
		"UD-Q4_K_M": "SmolLM3-3B-UD-Q4_K_M.gguf", "Q5_K_M": "old/smollm3.Q5_K_M.gguf",
	}
	for tag, want := range cases {
		if got, err := MatchTag(files, tag); err != nil || got != want {
			t.Errorf("MatchTag(%s) = %q, %v; want %q", tag, got, err, want)
		}
	}
	for tag, want := range map[string]string{"Q4_K": "no .gguf file matches", "F16": "no .gguf file matches", "BF16": "split"} {
		if got, err := MatchTag(files, tag); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("MatchTag(%s) = %q, %v; want an error about %q", tag, got, err, want)
		}
	}
	if _, err := MatchTag([]string{"README.md"}, "Q4_K_M"); err == nil {
		t.Error("no gguf files: no error")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{-1: "unknown size", 0: "0 B", 1023: "1023 B", 1536: "1.50 KiB", 1915299776: "1.78 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"o/r:Q4_K_M": "o/r:Q4_K_M", "/a b/c": "'/a b/c'", "it's": `'it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzParseRef checks that any string parses or fails cleanly, and that a
// parsed reference formats back to one that parses to the same thing and
// never names a cache path outside its directory.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{DefaultRef, "o/r", "o/r@v1:sub/m.gguf", "https://huggingface.co/o/r/resolve/main/m.gguf", "https://x.y/a.gguf", "o/r:../../etc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.File != "" && checkFile(r.File) != nil {
			t.Fatalf("%q: unsafe file %q", s, r.File)
		}
		if d := r.repoDir(); strings.ContainsAny(d, `/\`) || strings.Contains(d, "..") {
			t.Fatalf("%q: repo dir %q", s, d)
		}
		if r.URL == "" && (r.File == "" || strings.ContainsAny(r.File, "./")) {
			r2, err := ParseRef(r.String())
			if err != nil || r2 != r {
				t.Fatalf("%q: String() = %q reparses to %+v, %v", s, r.String(), r2, err)
			}
		}
	})
}
