package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// miniHub serves one repository the way huggingface.co does: the tree API
// and /resolve/ answering with X-Linked-Size/X-Linked-Etag and a redirect
// to the blob.
func miniHub(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/models/o/r/tree/main":
			var items []map[string]any
			for name, b := range files {
				items = append(items, map[string]any{"type": "file", "path": name, "size": len(b)})
			}
			json.NewEncoder(w).Encode(items)
		case strings.HasPrefix(r.URL.Path, "/o/r/resolve/main/"):
			b, ok := files[strings.TrimPrefix(r.URL.Path, "/o/r/resolve/main/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			sum := sha256.Sum256(b)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
			w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
			w.Header().Set("Location", srv.URL+"/blob"+r.URL.Path)
			w.WriteHeader(http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/blob/o/r/resolve/main/"):
			b := files[strings.TrimPrefix(r.URL.Path, "/blob/o/r/resolve/main/")]
			http.ServeContent(w, r, "blob", time.Time{}, strings.NewReader(string(b)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	return srv
}

func TestPullListRm(t *testing.T) {
	content := []byte(strings.Repeat("GGUF model bytes ", 1000))
	srv := miniHub(t, map[string][]byte{"m-Q4_K_M.gguf": content, "m-Q8_0.gguf": []byte("q8")})
	cache := t.TempDir()

	stdout, stderr, code := cli(t, "pull", "o/r:Q4_K_M", "--cache", cache)
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, stderr)
	}
	path := strings.TrimSpace(stdout)
	if b, err := os.ReadFile(path); err != nil || string(b) != string(content) {
		t.Fatalf("pulled file %s: %v", path, err)
	}
	if !strings.Contains(stderr, "downloading m-Q4_K_M.gguf") || !strings.Contains(stderr, "saved") {
		t.Errorf("log (not a terminal) = %q", stderr)
	}

	// Offline now: the second pull must come from the cache.
	srv.Close()
	stdout, stderr, code = cli(t, "pull", "--quiet", "--cache", cache, "o/r:Q4_K_M")
	if code != 0 || strings.TrimSpace(stdout) != path || stderr != "" {
		t.Fatalf("cached pull: exit %d, %q, %q", code, stdout, stderr)
	}

	stdout, _, code = cli(t, "list", "--cache", cache)
	if code != 0 || !strings.Contains(stdout, "o/r:m-Q4_K_M.gguf") || !strings.Contains(stdout, "16.60 KiB") {
		t.Errorf("list: exit %d\n%s", code, stdout)
	}
	stdout, _, _ = cli(t, "list", "--cache", cache, "--json")
	var items []map[string]any
	if err := json.Unmarshal([]byte(stdout), &items); err != nil || len(items) != 1 || items[0]["path"] != path {
		t.Errorf("list --json: %v %s", err, stdout)
	}

	if _, stderr, code = cli(t, "rm", "--cache", cache, "o/r:Q8_0"); code != 1 || !strings.Contains(stderr, "not in the cache") {
		t.Errorf("rm of a missing model: exit %d %q", code, stderr)
	}
	stdout, _, code = cli(t, "rm", "--cache", cache, "o/r")
	if code != 0 || !strings.Contains(stdout, "removed "+path) {
		t.Errorf("rm: exit %d %q", code, stdout)
	}
	stdout, _, _ = cli(t, "list", "--cache", cache)
	if !strings.Contains(stdout, "no models") {
		t.Errorf("list after rm: %q", stdout)
	}
}

func TestPullErrors(t *testing.T) {
	miniHub(t, map[string][]byte{"m-Q4_K_M.gguf": []byte("x")})
	cache := t.TempDir()
	if _, stderr, code := cli(t, "pull", "--cache", cache, "o/r:nope.gguf"); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("404: exit %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, "pull", "--cache", cache, "bad ref"); code != 2 {
		t.Errorf("bad ref: exit %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, "pull", "--cache", cache, "a/b", "c/d"); code != 2 {
		t.Errorf("two refs: exit %d %q", code, stderr)
	}
	if _, stderr, code := cli(t, "rm", "--cache", cache); code != 2 {
		t.Errorf("rm without ref: exit %d %q", code, stderr)
	}
}
