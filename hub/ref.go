// Package hub downloads GGUF models from Hugging Face into a local cache
// and finds them there again.
//
// A model reference (Ref) is one of
//
//	unsloth/SmolLM3-3B-GGUF:Q4_K_M      a repository and a quantization tag
//	unsloth/SmolLM3-3B-GGUF:SmolLM3-3B-Q8_0.gguf   a repository and a file
//	https://huggingface.co/OWNER/REPO/resolve/main/FILE.gguf   a URL
//
// A tag is resolved by listing the repository's files through the hub API
// and picking the .gguf file whose name carries the tag. Files are fetched
// from {endpoint}/{repo}/resolve/{revision}/{file} (HF_ENDPOINT, default
// https://huggingface.co) with HF_TOKEN as a bearer token and proxies from
// the environment, resumed with HTTP Range after an interruption, checked
// against the size and SHA-256 the hub reports, and renamed into place only
// when complete and verified. A file in the cache is found again without
// the network.
//
// The cache ($SMOLBOT_CACHE, default os.UserCacheDir()/smolbot/models) is
// laid out for people to read:
//
//	models--OWNER--REPO/FILE.gguf         the model
//	models--OWNER--REPO/FILE.gguf.json    where it came from, size, sha256
//	models--OWNER--REPO/FILE.gguf.partial an interrupted download
package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// DefaultRef is the model smolbot uses when none is named.
const DefaultRef = "unsloth/SmolLM3-3B-GGUF:Q4_K_M"

// DefaultTag is the quantization picked when a reference names only a repository.
const DefaultTag = "Q4_K_M"

// DefaultEndpoint is the Hugging Face hub, used when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// Ref is a parsed model reference.
type Ref struct {
	Repo     string // "owner/name"; empty for a URL that is not a hub file URL
	Revision string // branch, tag or commit; "main" by default
	File     string // file path inside the repository; empty if Tag is used
	Tag      string // quantization tag such as "Q4_K_M"; empty means DefaultTag (or, for Remove, every file)
	URL      string // the source for plain URL references
}

// ParseRef parses a model reference. OWNER/REPO[@REVISION][:TAG|:FILE.gguf]
// (what follows the colon is a file if it has a dot or a slash, else a tag)
// or an http(s) URL; a URL of the form {endpoint}/OWNER/REPO/resolve/REV/FILE
// (or /blob/) becomes a repository reference, so that it shares the cache.
func ParseRef(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Ref{}, fmt.Errorf("hub: empty model reference")
	}
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return parseURL(s)
	}
	repo, rest, hasColon := strings.Cut(s, ":")
	r := Ref{Revision: "main"}
	if name, rev, ok := strings.Cut(repo, "@"); ok {
		repo, r.Revision = name, rev
		if rev == "" {
			return Ref{}, fmt.Errorf("hub: %q: empty revision after @", s)
		}
	}
	if err := checkRepo(repo); err != nil {
		return Ref{}, fmt.Errorf("hub: %q: %w", s, err)
	}
	r.Repo = repo
	switch {
	case !hasColon:
	case rest == "":
		return Ref{}, fmt.Errorf("hub: %q: empty tag or file after ':'", s)
	case strings.ContainsAny(rest, "./"): // a file name; quant tags have no dots
		if err := checkFile(rest); err != nil {
			return Ref{}, fmt.Errorf("hub: %q: %w", s, err)
		}
		r.File = rest
	default:
		if strings.ContainsAny(rest, `/\ `) {
			return Ref{}, fmt.Errorf("hub: %q: bad tag %q", s, rest)
		}
		r.Tag = rest
	}
	return r, nil
}

func parseURL(s string) (Ref, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Ref{}, fmt.Errorf("hub: bad URL %q", s)
	}
	// {endpoint}/OWNER/REPO/resolve/REV/PATH... (the endpoint may have a path prefix)
	parts := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i := 0; i+4 < len(parts); i++ {
		if parts[i+2] != "resolve" && parts[i+2] != "blob" {
			continue
		}
		seg := make([]string, 0, len(parts)-i)
		for _, p := range parts[i:] {
			d, err := url.PathUnescape(p)
			if err != nil {
				return Ref{}, fmt.Errorf("hub: bad URL %q", s)
			}
			seg = append(seg, d)
		}
		r := Ref{Repo: seg[0] + "/" + seg[1], Revision: seg[3], File: strings.Join(seg[4:], "/")}
		if checkRepo(r.Repo) == nil && checkFile(r.File) == nil && r.Revision != "" {
			if i == 0 && (u.Host == "huggingface.co" || u.Host == "hf.co") {
				return r, nil
			}
			// Another host (a mirror or HF_ENDPOINT): keep the URL so the
			// download goes there, but cache it under the repository.
			r.URL = s
			return r, nil
		}
	}
	if path.Base(u.Path) == "" || path.Base(u.Path) == "/" || path.Base(u.Path) == "." {
		return Ref{}, fmt.Errorf("hub: URL %q does not name a file", s)
	}
	return Ref{URL: s}, nil
}

func checkRepo(repo string) error {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || strings.Contains(name, "/") {
		return fmt.Errorf("repository must be OWNER/NAME, got %q", repo)
	}
	for _, part := range []string{owner, name} {
		// Hugging Face forbids "--" and ".." in names too; "--" would also
		// make two repositories share a cache directory (models--a--b--c).
		if part == "" || strings.HasPrefix(part, "-") || strings.HasPrefix(part, ".") ||
			strings.Contains(part, "--") || strings.Contains(part, "..") || len(part) > 96 {
			return fmt.Errorf("bad repository name %q", repo)
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fmt.Errorf("bad character %q in repository name %q", c, repo)
			}
		}
	}
	return nil
}

// checkFile rejects file paths that could escape the cache directory.
func checkFile(f string) error {
	if f == "" || strings.HasPrefix(f, "/") || strings.Contains(f, `\`) || strings.ContainsRune(f, 0) {
		return fmt.Errorf("bad file name %q", f)
	}
	for _, p := range strings.Split(f, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("bad file name %q", f)
		}
	}
	return nil
}

// String formats the reference so that ParseRef gives it back.
func (r Ref) String() string {
	if r.Repo == "" || r.URL != "" {
		return r.URL
	}
	s := r.Repo
	if r.Revision != "" && r.Revision != "main" {
		s += "@" + r.Revision
	}
	switch {
	case r.File != "":
		s += ":" + r.File
	case r.Tag != "":
		s += ":" + r.Tag
	}
	return s
}

func (r Ref) tag() string {
	if r.Tag == "" {
		return DefaultTag
	}
	return r.Tag
}

func (r Ref) revision() string {
	if r.Revision == "" {
		return "main"
	}
	return r.Revision
}

// repoDir is the cache directory of the reference's files.
func (r Ref) repoDir() string {
	if r.Repo != "" {
		return "models--" + strings.ReplaceAll(r.Repo, "/", "--")
	}
	u, _ := url.Parse(r.URL)
	sum := sha256.Sum256([]byte(r.URL))
	host := strings.NewReplacer(":", "_", "/", "_").Replace(u.Host)
	return "url--" + host + "--" + hex.EncodeToString(sum[:4])
}

// urlFile is the cache file name of a plain URL reference.
func (r Ref) urlFile() string {
	u, _ := url.Parse(r.URL)
	b := path.Base(u.Path)
	if checkFile(b) != nil {
		return "download"
	}
	return b
}

// MatchTag picks the .gguf file of a repository listing that carries the
// quantization tag (case-insensitive): the tag must appear in the file name
// between separators ('-', '.', '/' or the ends), so "Q4_K" does not match
// "Q4_K_M". Names ending in the tag win, then the shortest path, so that
// "SmolLM3-3B-Q4_K_M.gguf" beats "SmolLM3-3B-UD-Q4_K_M.gguf". Multimodal
// projector files are ignored and split (-00001-of-0000N) files are refused.
func MatchTag(files []string, tag string) (string, error) {
	t := strings.ToLower(tag)
	var cands, ggufs []string
	for _, f := range files {
		lf := strings.ToLower(f)
		if !strings.HasSuffix(lf, ".gguf") || strings.Contains(lf, "mmproj") {
			continue
		}
		ggufs = append(ggufs, f)
		if hasToken(strings.TrimSuffix(lf, ".gguf"), t) {
			cands = append(cands, f)
		}
	}
	if len(cands) == 0 {
		if len(ggufs) == 0 {
			return "", fmt.Errorf("hub: the repository has no .gguf files")
		}
		if len(ggufs) > 20 {
			ggufs = append(ggufs[:20], "…")
		}
		return "", fmt.Errorf("hub: no .gguf file matches tag %q; the repository has: %s", tag, strings.Join(ggufs, ", "))
	}
	endsWith := func(f string) bool {
		return strings.HasSuffix(strings.TrimSuffix(strings.ToLower(f), ".gguf"), t)
	}
	slices.SortFunc(cands, func(a, b string) int {
		if ea, eb := endsWith(a), endsWith(b); ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	best := cands[0]
	if isSplit(best) {
		return "", fmt.Errorf("hub: %s is split into several files, which smolbot cannot load; pick a single-file quantization", best)
	}
	return best, nil
}

// hasToken reports whether tag occurs in s delimited by separators.
func hasToken(s, tag string) bool {
	sep := func(c byte) bool { return c == '-' || c == '.' || c == '/' }
	for i := 0; ; {
		j := strings.Index(s[i:], tag)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(tag)
		if (j == 0 || sep(s[j-1])) && (end == len(s) || sep(s[end])) {
			return true
		}
		i = j + 1
	}
}

// isSplit recognises llama.cpp's gguf-split names: NAME-00001-of-00003.gguf.
func isSplit(f string) bool {
	s := strings.TrimSuffix(strings.ToLower(f), ".gguf")
	i := strings.LastIndex(s, "-of-")
	if i < 6 || len(s)-i-4 != 5 || s[i-6] != '-' {
		return false
	}
	for _, c := range s[i-5:i] + s[i+4:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
