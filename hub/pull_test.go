package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var ctx = context.Background()

func TestPullTagThenOffline(t *testing.T) {
	f := newFakeHub(t)
	want := blob(300_000, 1)
	f.add("o/r", "M-Q4_K_M.gguf", want)
	f.add("o/r", "M-UD-Q4_K_M.gguf", blob(10, 2))
	f.add("o/r", "M-Q8_0.gguf", blob(10, 3))
	f.add("o/r", "mmproj-Q4_K_M.gguf", blob(10, 4))
	f.add("o/r", "README.md", []byte("hi"))
	f.pageSize = 2 // exercise the Link pagination
	c := f.client(t)
	e, err := c.Pull(ctx, mustRef(t, "o/r:q4_k_m"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)
	if e.File != "M-Q4_K_M.gguf" || e.Repo != "o/r" || e.Commit != "c0ffee" {
		t.Errorf("entry %+v", e)
	}
	if filepath.Base(filepath.Dir(e.Path)) != "models--o--r" {
		t.Errorf("path %s", e.Path)
	}
	for _, a := range f.cdnAuth {
		if a != "" {
			t.Errorf("the CDN received Authorization %q", a)
		}
	}

	// Second pull: no network at all, by tag, by file, and offline.
	f.hub.Close()
	f.cdn.Close()
	c.noNetwork = func() error { return errors.New("network used") }
	for _, ref := range []string{"o/r:Q4_K_M", "o/r", "o/r:M-Q4_K_M.gguf"} {
		e2, err := c.Pull(ctx, mustRef(t, ref))
		if err != nil || e2.Path != e.Path {
			t.Errorf("cached pull of %s: %v, %v", ref, e2, err)
		}
	}
	c.Offline = true
	if _, err := c.Pull(ctx, mustRef(t, "o/r:Q8_0")); !errors.Is(err, ErrNotCached) {
		t.Errorf("offline pull of a missing file: %v", err)
	}
}

func TestResumeAfterCut(t *testing.T) {
	f := newFakeHub(t)
	want := blob(3<<20, 5)
	f.add("o/r", "m.gguf", want)
	f.cutAfter, f.cuts = 1<<20, 1
	c := f.client(t)
	_, err := c.Pull(ctx, mustRef(t, "o/r:m.gguf"))
	if err == nil {
		t.Fatal("cut connection did not fail the pull")
	}
	final := filepath.Join(c.CacheDir, "models--o--r", "m.gguf")
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final file exists after a failed pull")
	}
	st, err := os.Stat(final + partialSuffix)
	if err != nil || st.Size() == 0 || st.Size() >= int64(len(want)) {
		t.Fatalf("partial: %v %v", st, err)
	}
	e, err := c.Pull(ctx, mustRef(t, "o/r:m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)
	if last := f.ranges[len(f.ranges)-1]; last != fmt.Sprintf("bytes=%d-", st.Size()) {
		t.Errorf("resume sent Range %q, want bytes=%d-", last, st.Size())
	}
}

func TestRetryWithinOnePull(t *testing.T) {
	f := newFakeHub(t)
	want := blob(2<<20, 6)
	f.add("o/r", "m.gguf", want)
	f.cutAfter, f.cuts = 300_000, 3
	c := f.client(t)
	c.Retries = 5
	var log strings.Builder
	c.Progress = &log
	e, err := c.Pull(ctx, mustRef(t, "o/r:m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)
	if !strings.Contains(log.String(), "resuming") || !strings.Contains(log.String(), "retrying") {
		t.Errorf("log does not mention the resume:\n%s", log.String())
	}
}

func TestServerIgnoresRange(t *testing.T) {
	f := newFakeHub(t)
	want := blob(1<<20, 7)
	f.add("o/r", "m.gguf", want)
	c := f.client(t)
	dst := filepath.Join(c.CacheDir, "models--o--r", "m.gguf")
	os.MkdirAll(filepath.Dir(dst), 0o755)
	os.WriteFile(dst+partialSuffix, []byte("garbage that is not the start of the file"), 0o644)
	f.noRange = true
	e, err := c.Pull(ctx, mustRef(t, "o/r:m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)
}

func TestChecksumMismatch(t *testing.T) {
	f := newFakeHub(t)
	f.add("o/r", "m.gguf", blob(100_000, 8))
	f.badSHA["o/r/m.gguf"] = true
	c := f.client(t)
	_, err := c.Pull(ctx, mustRef(t, "o/r:m.gguf"))
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ChecksumError", err)
	}
	dir := filepath.Join(c.CacheDir, "models--o--r")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		t.Errorf("left in the cache: %s", e.Name())
	}
	if es, _ := List(c.CacheDir); len(es) != 0 {
		t.Errorf("List shows %v", es)
	}
}

func TestNonLFSGitChecksum(t *testing.T) {
	f := newFakeHub(t)
	want := []byte("small file kept in git, not LFS")
	f.add("o/r", "tiny.gguf", want)
	f.nonLFS["o/r/tiny.gguf"] = true
	c := f.client(t)
	e, err := c.Pull(ctx, mustRef(t, "o/r:tiny.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)
	if e.ETag != gitSHA(want) {
		t.Errorf("etag %q", e.ETag)
	}
}

func TestHTTPErrors(t *testing.T) {
	f := newFakeHub(t)
	f.add("o/gated", "m-Q4_K_M.gguf", blob(1000, 9))
	f.gated["o/gated"] = true
	c := f.client(t)

	_, err := c.Pull(ctx, mustRef(t, "o/r:missing.gguf"))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 404 || !strings.Contains(err.Error(), "not found") {
		t.Errorf("404: %v", err)
	}
	_, err = c.Pull(ctx, mustRef(t, "o/gated:m-Q4_K_M.gguf"))
	if !errors.As(err, &he) || he.StatusCode != 401 || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("401 without token: %v", err)
	}
	c.Token = "bad"
	_, err = c.Pull(ctx, mustRef(t, "o/gated:m-Q4_K_M.gguf"))
	if err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("401 with a bad token: %v", err)
	}
	c.Token = "good"
	e, err := c.Pull(ctx, mustRef(t, "o/gated:Q4_K_M"))
	if err != nil {
		t.Fatalf("gated pull with a good token: %v", err)
	}
	checkContent(t, e, blob(1000, 9))
	if _, err := c.Pull(ctx, mustRef(t, "o/gated:Q2_K")); err == nil || !strings.Contains(err.Error(), "m-Q4_K_M.gguf") {
		t.Errorf("unmatched tag should list the files: %v", err)
	}
}

type failingWriter struct {
	w    io.Writer
	left int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, &os.PathError{Op: "write", Path: "partial", Err: syscall.ENOSPC}
	}
	f.left -= len(p)
	return f.w.Write(p)
}

func TestDiskFull(t *testing.T) {
	f := newFakeHub(t)
	want := blob(3<<20, 10)
	f.add("o/r", "m.gguf", want)
	c := f.client(t)
	c.Retries = 3
	c.wrapFile = func(w io.Writer) io.Writer { return &failingWriter{w: w, left: 1<<20 + 123} }
	_, err := c.Pull(ctx, mustRef(t, "o/r:m.gguf"))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.ranges); n != 1 {
		t.Errorf("a full disk was retried (%d requests)", n)
	}
	final := filepath.Join(c.CacheDir, "models--o--r", "m.gguf")
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("final file exists")
	}
	// Space freed: the next pull resumes from what was written.
	c.wrapFile = nil
	e, err := c.Pull(ctx, mustRef(t, "o/r:m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)
	if last := f.ranges[len(f.ranges)-1]; last != fmt.Sprintf("bytes=%d-", 1<<20+123) {
		t.Errorf("resume Range %q", last)
	}
}

func TestRenamedRepoAndURLs(t *testing.T) {
	f := newFakeHub(t)
	want := blob(5000, 11)
	f.add("new/r", "m.gguf", want)
	f.renamed["old/r"] = "new/r"
	f.plainURLs["/files/plain.gguf"] = blob(700, 12)
	c := f.client(t)
	e, err := c.Pull(ctx, mustRef(t, "old/r:m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)

	e, err = c.Pull(ctx, mustRef(t, f.hub.URL+"/new/r/resolve/main/m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, e, want)
	if filepath.Base(filepath.Dir(e.Path)) != "models--new--r" {
		t.Errorf("hub URL cached at %s", e.Path)
	}

	e, err = c.Pull(ctx, mustRef(t, f.hub.URL+"/files/plain.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(filepath.Dir(e.Path)), "url--127.0.0.1") || filepath.Base(e.Path) != "plain.gguf" {
		t.Errorf("plain URL cached at %s", e.Path)
	}
	n := f.count()
	if _, err := c.Pull(ctx, mustRef(t, f.hub.URL+"/files/plain.gguf")); err != nil || f.count() != n {
		t.Errorf("second URL pull: %v, %d new requests", err, f.count()-n)
	}
}

func TestListAndRemove(t *testing.T) {
	f := newFakeHub(t)
	f.add("o/r", "a-Q4_K_M.gguf", blob(100, 13))
	f.add("o/r", "a-Q8_0.gguf", blob(200, 14))
	f.add("o/s", "b-Q4_K_M.gguf", blob(300, 15))
	c := f.client(t)
	for _, ref := range []string{"o/r", "o/r:Q8_0", "o/s:b-Q4_K_M.gguf"} {
		if _, err := c.Pull(ctx, mustRef(t, ref)); err != nil {
			t.Fatal(err)
		}
	}
	es, err := List(c.CacheDir)
	if err != nil || len(es) != 3 {
		t.Fatalf("List = %v, %v", es, err)
	}
	var refs []string
	for _, e := range es {
		refs = append(refs, e.Ref().String())
	}
	if got := strings.Join(refs, " "); got != "o/r:a-Q4_K_M.gguf o/r:a-Q8_0.gguf o/s:b-Q4_K_M.gguf" {
		t.Errorf("refs = %s", got)
	}
	removed, err := Remove(c.CacheDir, mustRef(t, "o/r:Q8_0"))
	if err != nil || len(removed) != 1 || !strings.HasSuffix(removed[0], "a-Q8_0.gguf") {
		t.Errorf("Remove tag: %v, %v", removed, err)
	}
	if _, err := Remove(c.CacheDir, mustRef(t, "o/r:Q8_0")); !errors.Is(err, ErrNotCached) {
		t.Errorf("second Remove: %v", err)
	}
	if removed, err := Remove(c.CacheDir, mustRef(t, "o/s")); err != nil || len(removed) != 1 {
		t.Errorf("Remove repo: %v, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(c.CacheDir, "models--o--s")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty repo dir kept")
	}
	es, _ = List(c.CacheDir)
	if len(es) != 1 {
		t.Errorf("after rm: %v", es)
	}
}

func TestResolveModel(t *testing.T) {
	f := newFakeHub(t)
	want := blob(4096, 16)
	f.add("o/r", "x-Q4_K_M.gguf", want)
	c := f.client(t)
	_, err := ResolveModel("o/r:Q4_K_M", c.CacheDir, false)
	var nc *NotCachedError
	if !errors.As(err, &nc) || !errors.Is(err, ErrNotCached) {
		t.Fatalf("err = %v", err)
	}
	wantCmd := "smolbot pull --cache " + c.CacheDir + " o/r:Q4_K_M"
	if nc.Command != wantCmd || !strings.Contains(err.Error(), wantCmd) || !strings.Contains(err.Error(), "--pull") {
		t.Errorf("message %q, want the command %q", err, wantCmd)
	}
	if f.count() != 0 {
		t.Errorf("ResolveModel without pull used the network")
	}
	p, err := ResolveModel("o/r:Q4_K_M", c.CacheDir, true)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); sha(b) != sha(want) {
		t.Errorf("resolved file differs")
	}
	if p2, err := ResolveModel("o/r", c.CacheDir, false); err != nil || p2 != p {
		t.Errorf("cached resolve: %q %v", p2, err)
	}
	if p3, err := ResolveModel(p, "", false); err != nil || p3 != p {
		t.Errorf("a path resolves to itself: %q %v", p3, err)
	}
	if _, err := ResolveModel("not a ref", c.CacheDir, false); err == nil {
		t.Errorf("bad ref accepted")
	}
	for _, p := range []string{"./missing.gguf", "/nope/m.gguf", "dir/model.gguf"} {
		if _, err := ResolveModel(p, c.CacheDir, false); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ResolveModel(%q) = %v, want a not-exist error", p, err)
		}
	}
}
