package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHub emulates the parts of huggingface.co that smolbot uses: the tree
// API, /resolve/ with HF's headers and a 302 to a separate CDN server for
// LFS files, Range requests, gated repositories, and injected faults.
type fakeHub struct {
	t        *testing.T
	hub, cdn *httptest.Server

	mu        sync.Mutex
	repos     map[string]map[string][]byte // repo → path → content
	nonLFS    map[string]bool              // "repo/path" served without LFS headers
	gated     map[string]bool              // repo → needs "Bearer good"
	renamed   map[string]string            // old repo → new repo
	badSHA    map[string]bool              // "repo/path": advertise a wrong sha256
	cutAfter  int                          // CDN: drop the connection after this many bytes ...
	cuts      int                          // ... for this many more requests
	noRange   bool                         // CDN ignores Range
	pageSize  int                          // tree API page size (0: all)
	requests  []string
	cdnAuth   []string // Authorization headers the CDN saw
	ranges    []string // Range headers the CDN saw
	plainURLs map[string][]byte
}

func newFakeHub(t *testing.T) *fakeHub {
	f := &fakeHub{t: t, repos: map[string]map[string][]byte{}, nonLFS: map[string]bool{}, gated: map[string]bool{},
		renamed: map[string]string{}, badSHA: map[string]bool{}, plainURLs: map[string][]byte{}}
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serveCDN))
	f.hub = httptest.NewServer(http.HandlerFunc(f.serveHub))
	t.Cleanup(func() { f.hub.Close(); f.cdn.Close() })
	return f
}

func (f *fakeHub) add(repo, path string, content []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.repos[repo] == nil {
		f.repos[repo] = map[string][]byte{}
	}
	f.repos[repo][path] = content
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func gitSHA(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (f *fakeHub) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.requests) }

func (f *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if content, ok := f.plainURLs[r.URL.Path]; ok {
		http.ServeContent(w, r, "x", time.Time{}, strings.NewReader(string(content)))
		return
	}
	if len(parts) >= 6 && parts[0] == "api" && parts[1] == "models" && parts[4] == "tree" {
		f.serveTree(w, r, parts[2]+"/"+parts[3])
		return
	}
	if len(parts) < 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repo, file := parts[0]+"/"+parts[1], strings.Join(parts[4:], "/")
	if to, ok := f.renamed[repo]; ok {
		http.Redirect(w, r, "/"+to+"/resolve/"+parts[3]+"/"+file, http.StatusTemporaryRedirect)
		return
	}
	if f.gated[repo] && r.Header.Get("Authorization") != "Bearer good" {
		w.Header().Set("X-Error-Code", "GatedRepo")
		w.Header().Set("X-Error-Message", "Access to model "+repo+" is restricted.")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	content, ok := f.repos[repo][file]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", "c0ffee")
	if f.nonLFS[repo+"/"+file] {
		w.Header().Set("ETag", `"`+gitSHA(content)+`"`)
		http.ServeContent(w, r, file, time.Time{}, strings.NewReader(string(content)))
		return
	}
	s := sha(content)
	if f.badSHA[repo+"/"+file] {
		s = sha([]byte("something else"))
	}
	w.Header().Set("X-Linked-Size", strconv.Itoa(len(content)))
	w.Header().Set("X-Linked-Etag", `"`+s+`"`)
	w.Header().Set("ETag", `"`+s+`"`)
	w.Header().Set("Location", f.cdn.URL+"/blobs/"+repo+"/"+file+"?signature=xyz")
	w.WriteHeader(http.StatusFound)
}

func (f *fakeHub) serveTree(w http.ResponseWriter, r *http.Request, repo string) {
	files := f.repos[repo]
	if files == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	end := len(names)
	if f.pageSize > 0 && start+f.pageSize < end {
		end = start + f.pageSize
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?recursive=true&cursor=%d>; rel="next"`, f.hub.URL, r.URL.Path, end))
	}
	var items []map[string]any
	if start == 0 {
		items = append(items, map[string]any{"type": "directory", "path": "sub", "oid": "x", "size": 0})
	}
	for _, n := range names[start:end] {
		items = append(items, map[string]any{"type": "file", "path": n, "size": len(files[n]), "oid": "x",
			"lfs": map[string]any{"oid": sha(files[n]), "size": len(files[n])}})
	}
	json.NewEncoder(w).Encode(items)
}

func (f *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.cdnAuth = append(f.cdnAuth, r.Header.Get("Authorization"))
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	rest, _ := strings.CutPrefix(r.URL.Path, "/blobs/")
	parts := strings.SplitN(rest, "/", 3)
	var content []byte
	if len(parts) == 3 {
		content = f.repos[parts[0]+"/"+parts[1]][parts[2]]
	}
	cut := 0
	if f.cuts > 0 {
		f.cuts--
		cut = f.cutAfter
	}
	noRange := f.noRange
	f.mu.Unlock()
	if content == nil || r.URL.Query().Get("signature") != "xyz" {
		http.NotFound(w, r)
		return
	}
	if noRange {
		r.Header.Del("Range")
	}
	if cut > 0 {
		// Send the headers for the whole body, then part of it, then drop.
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(content)-1, len(content)))
			w.Header().Set("Content-Length", strconv.Itoa(len(content)-start))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
			w.WriteHeader(http.StatusOK)
		}
		w.Write(content[start:min(start+cut, len(content))])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "blob", time.Time{}, strings.NewReader(string(content)))
}

func (f *fakeHub) client(t *testing.T) *Client {
	t.Helper()
	t.Setenv("HF_ENDPOINT", f.hub.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	c, err := NewClient(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(time.Duration) {}
	c.Retries = 0
	return c
}

func blob(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func mustRef(t *testing.T, s string) Ref {
	t.Helper()
	r, err := ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func checkContent(t *testing.T, e *Entry, want []byte) {
	t.Helper()
	got, err := os.ReadFile(e.Path)
	if err != nil {
		t.Fatal(err)
	}
	if sha(got) != sha(want) {
		t.Fatalf("%s: content differs (%d bytes, want %d)", e.Path, len(got), len(want))
	}
	if e.SHA256 != sha(want) || e.Size != int64(len(want)) {
		t.Errorf("entry %+v", e)
	}
	if _, err := os.Stat(e.Path + partialSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file left behind: %v", err)
	}
}
