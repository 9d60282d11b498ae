package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smolbot/smolbot/internal/mmapfile"
)

// Client downloads from a Hugging Face hub into a cache directory. The zero
// value is not usable; call NewClient.
type Client struct {
	Endpoint string       // hub URL without a trailing slash: $HF_ENDPOINT or DefaultEndpoint
	Token    string       // bearer token: $HF_TOKEN; sent only to the endpoint's host
	CacheDir string       // where models are stored
	HTTP     *http.Client // proxies from the environment (HTTPS_PROXY, NO_PROXY, ...)
	// Progress receives a progress bar when it is a terminal, and a few log
	// lines otherwise. Nil is silent.
	Progress io.Writer
	// Offline forbids the network ($HF_HUB_OFFLINE=1): only cached files resolve.
	Offline bool
	// Retries is how many times a download resumes after a dropped
	// connection or a server error before giving up.
	Retries int
	// StallTimeout aborts (and then resumes) a download that receives no
	// byte for this long.
	StallTimeout time.Duration

	sleep     func(time.Duration)       // backoff between retries (tests make it instant)
	wrapFile  func(io.Writer) io.Writer // tests inject write failures (disk full)
	noNetwork func() error              // tests assert that no request is made
}

// NewClient returns a client for cacheDir (DefaultCacheDir if empty)
// configured from the environment: HF_ENDPOINT, HF_TOKEN (or
// HUGGING_FACE_HUB_TOKEN), HF_HUB_OFFLINE, and the standard proxy variables.
func NewClient(cacheDir string) (*Client, error) {
	if cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cacheDir = d
	}
	ep := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/")
	if ep == "" {
		ep = DefaultEndpoint
	}
	tok := os.Getenv("HF_TOKEN")
	if tok == "" {
		tok = os.Getenv("HUGGING_FACE_HUB_TOKEN")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.ResponseHeaderTimeout = time.Minute
	off := strings.ToLower(os.Getenv("HF_HUB_OFFLINE"))
	return &Client{
		Endpoint:     ep,
		Token:        strings.TrimSpace(tok),
		CacheDir:     cacheDir,
		HTTP:         &http.Client{Transport: tr},
		Offline:      off == "1" || off == "true" || off == "yes" || off == "on",
		Retries:      5,
		StallTimeout: 2 * time.Minute,
	}, nil
}

// HTTPError is an unexpected HTTP status, with a hint for the user.
type HTTPError struct {
	StatusCode int
	URL        string
	Msg        string // what went wrong and what to do
}

// Error formats the status, URL and hint.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("hub: %s: %d %s: %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Msg)
}

// ChecksumError means a downloaded file did not match the hub's checksum;
// the file was deleted.
type ChecksumError struct {
	File      string
	Algorithm string // "sha256" or "git-sha1"
	Want, Got string
}

// Error says which checksum failed and that the file was deleted.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("hub: %s: %s mismatch: the hub says %s, the download has %s (deleted; run the command again)", e.File, e.Algorithm, e.Want, e.Got)
}

// retryable marks a transient failure (network, 5xx) worth resuming after.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

func isRetryable(err error) bool {
	var r *retryable
	return errors.As(err, &r)
}

// Pull makes sure the file a reference names is in the cache and returns its
// entry. A cached, verified file is returned without any network access.
func (c *Client) Pull(ctx context.Context, r Ref) (*Entry, error) {
	if e, err := Lookup(c.CacheDir, r); err == nil {
		return e, nil
	}
	if c.Offline {
		return nil, fmt.Errorf("hub: %s is not in the cache %s and HF_HUB_OFFLINE is set: %w", r, c.CacheDir, ErrNotCached)
	}
	if r.Repo != "" && r.File == "" {
		var names []string
		err := c.retry(ctx, "listing "+r.Repo, func() error {
			var err error
			names, err = c.ListFiles(ctx, r.Repo, r.revision())
			return err
		})
		if err != nil {
			return nil, err
		}
		f, err := MatchTag(names, r.tag())
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, r.Repo)
		}
		r.File, r.Tag = f, ""
		if e, err := Lookup(c.CacheDir, r); err == nil {
			return e, nil
		}
	}
	return c.download(ctx, r)
}

// retry runs fn until it succeeds, fails for good, or the retries run out.
func (c *Client) retry(ctx context.Context, what string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !isRetryable(err) || attempt >= c.Retries || ctx.Err() != nil {
			return err
		}
		d := time.Duration(1<<min(attempt, 5)) * time.Second
		c.logf("%s: %v; retrying in %v (%d/%d)", what, err, d, attempt+1, c.Retries)
		if c.sleep != nil {
			c.sleep(d)
		} else {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

func (c *Client) logf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// resolveURL is the download URL of a repository file.
func (c *Client) resolveURL(r Ref) string {
	if r.URL != "" {
		return r.URL
	}
	parts := strings.Split(r.File, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", c.Endpoint, r.Repo, url.PathEscape(r.revision()), strings.Join(parts, "/"))
}

// authorize adds the token for requests to the hub itself; redirect targets
// (the CDN, with pre-signed URLs) and other hosts never see it.
func (c *Client) authorize(req *http.Request) {
	if c.Token == "" {
		return
	}
	ep, err := url.Parse(c.Endpoint)
	if err == nil && strings.EqualFold(req.URL.Host, ep.Host) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
}

func (c *Client) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	if c.noNetwork != nil {
		if err := c.noNetwork(); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	req.Header.Set("User-Agent", "smolbot")
	c.authorize(req)
	return req, nil
}

// netErr wraps a transport error: transient unless the caller cancelled
// or the host name does not resolve (no network, or a mistyped
// HF_ENDPOINT), where retrying for half a minute would only delay the
// message.
func netErr(ctx context.Context, u string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the URL
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return fmt.Errorf("hub: cannot reach %s: %w (no network? HF_ENDPOINT and HTTPS_PROXY are honoured)", hostOf(u), err)
	}
	return &retryable{fmt.Errorf("hub: %s: %w", u, err)}
}

// hostOf is the host of URL u, or u itself if it does not parse.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

// httpError turns an unexpected response into an error with a hint.
func (c *Client) httpError(resp *http.Response, u string) error {
	msg := resp.Header.Get("X-Error-Message")
	code := resp.Header.Get("X-Error-Code")
	e := &HTTPError{StatusCode: resp.StatusCode, URL: u}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && c.Token == "":
		e.Msg = "this repository needs authentication: it is gated or private (or does not exist). " +
			"Create an access token at https://huggingface.co/settings/tokens, accept the model's terms on its page, " +
			"and run again with HF_TOKEN=hf_... in the environment"
	case resp.StatusCode == http.StatusUnauthorized:
		e.Msg = "the token in HF_TOKEN was rejected, or the repository does not exist; check the token and the name"
	case resp.StatusCode == http.StatusForbidden || code == "GatedRepo":
		e.Msg = "access denied: the repository is gated; accept its terms on its page with the account whose token is in HF_TOKEN"
	case resp.StatusCode == http.StatusNotFound:
		e.Msg = "not found: check the repository, revision and file names"
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		e.Msg = "the server is busy or failing"
		if msg != "" {
			e.Msg += ": " + msg
		}
		return &retryable{e}
	default:
		e.Msg = "unexpected response"
	}
	if msg != "" {
		e.Msg += " (server: " + msg + ")"
	}
	return e
}

// ListFiles returns the paths of every file of a repository revision, from
// GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true, following
// the Link pagination.
func (c *Client) ListFiles(ctx context.Context, repo, revision string) ([]string, error) {
	if err := checkRepo(repo); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	next := fmt.Sprintf("%s/api/models/%s/tree/%s?recursive=true", c.Endpoint, repo, url.PathEscape(revision))
	var out []string
	for page := 0; next != "" && page < 100; page++ {
		req, err := c.newRequest(ctx, http.MethodGet, next)
		if err != nil {
			return nil, err
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, netErr(ctx, next, err)
		}
		var items []struct {
			Type string `json:"type"`
			Path string `json:"path"`
		}
		if resp.StatusCode != http.StatusOK {
			err = c.httpError(resp, next)
		} else if derr := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&items); derr != nil {
			err = &retryable{fmt.Errorf("hub: listing %s: %w", repo, derr)}
		}
		link := resp.Header.Get("Link")
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.Type == "file" {
				out = append(out, it.Path)
			}
		}
		next = nextLink(link, req.URL)
	}
	return out, nil
}

// nextLink extracts the rel="next" target of a Link header.
func nextLink(h string, base *url.URL) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		if u, err := base.Parse(target); err == nil {
			return u.String()
		}
	}
	return ""
}

// remote is what a HEAD request tells about a file.
type remote struct {
	Size     int64  // -1 if unknown
	SHA256   string // lowercase hex, if the ETag is an LFS oid
	GitSHA1  string // lowercase hex, if the ETag is a git blob id
	ETag     string
	Commit   string
	Location string // where to GET the bytes
}

// head asks the hub about u. Like huggingface_hub, it follows relative
// redirects (renamed repositories) and stops at the first absolute one (the
// CDN): the hub puts X-Linked-Size and X-Linked-Etag on that response.
func (c *Client) head(ctx context.Context, u string) (*remote, error) {
	noRedirect := *c.HTTP
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cur := u
	for hops := 0; hops < 10; hops++ {
		req, err := c.newRequest(ctx, http.MethodHead, cur)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := noRedirect.Do(req)
		if err != nil {
			return nil, netErr(ctx, cur, err)
		}
		resp.Body.Close()
		h := resp.Header
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := req.URL.Parse(h.Get("Location"))
			if h.Get("Location") == "" || err != nil {
				return nil, fmt.Errorf("hub: %s: redirect without a usable Location", cur)
			}
			if lu, _ := url.Parse(h.Get("Location")); lu != nil && lu.Host == "" {
				cur = loc.String()
				continue
			}
			return parseRemote(h, -1, loc.String()), nil
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return parseRemote(h, resp.ContentLength, cur), nil
		case resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
			// Not a hub: no metadata, download blind.
			return &remote{Size: -1, Location: cur}, nil
		default:
			return nil, c.httpError(resp, cur)
		}
	}
	return nil, fmt.Errorf("hub: %s: too many redirects", u)
}

func parseRemote(h http.Header, contentLength int64, loc string) *remote {
	r := &remote{Size: -1, Location: loc, Commit: h.Get("X-Repo-Commit")}
	if s, err := strconv.ParseInt(h.Get("X-Linked-Size"), 10, 64); err == nil && s >= 0 {
		r.Size = s
	} else if contentLength >= 0 {
		r.Size = contentLength
	}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	etag = strings.Trim(strings.TrimPrefix(strings.TrimSpace(etag), "W/"), `"`)
	r.ETag = etag
	if isHex(etag) {
		switch len(etag) {
		case 64:
			r.SHA256 = strings.ToLower(etag)
		case 40:
			r.GitSHA1 = strings.ToLower(etag)
		}
	}
	return r
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && s != ""
}

// download fetches r into the cache, resuming and retrying.
func (c *Client) download(ctx context.Context, r Ref) (*Entry, error) {
	src := c.resolveURL(r)
	name := r.File
	if r.Repo == "" {
		name = r.urlFile()
	}
	dst := filePath(c.CacheDir, r, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	var e *Entry
	err := c.retry(ctx, "downloading "+name, func() error {
		meta, err := c.head(ctx, src)
		if err != nil {
			return err
		}
		e, err = c.fetch(ctx, r, name, src, dst, meta)
		return err
	})
	return e, err
}

// fetch downloads into dst.partial (resuming what is there), verifies, and
// renames into place.
func (c *Client) fetch(ctx context.Context, r Ref, name, src, dst string, meta *remote) (*Entry, error) {
	partial := dst + partialSuffix
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return nil, fmt.Errorf("hub: %s: another smolbot is downloading it (%v)", partial, err)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	have := st.Size()
	if meta.Size >= 0 && have > meta.Size || meta.Size < 0 {
		have = 0 // can only resume a file of known size
	}
	if err := f.Truncate(have); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	sum := sha256.New()
	if have > 0 {
		if _, err := io.Copy(sum, io.NewSectionReader(f, 0, have)); err != nil {
			return nil, fmt.Errorf("hub: reading %s: %w", partial, err)
		}
	}
	prog := newProgress(c.Progress, name, meta.Size, have)
	if have > 0 {
		c.logf("resuming %s at %s of %s", name, formatBytes(have), formatBytes(meta.Size))
	} else {
		c.logf("downloading %s (%s) from %s", name, formatBytes(meta.Size), src)
	}
	if meta.Size < 0 || have < meta.Size {
		n, err := c.get(ctx, f, sum, prog, meta, have)
		have = n
		if err != nil {
			prog.stop()
			return nil, err
		}
	}
	prog.stop()
	if meta.Size >= 0 && have != meta.Size {
		return nil, &retryable{fmt.Errorf("hub: %s: got %d of %d bytes", name, have, meta.Size)}
	}
	if err := f.Sync(); err != nil {
		return nil, diskErr(c.CacheDir, err)
	}
	got := hex.EncodeToString(sum.Sum(nil))
	if meta.SHA256 != "" && got != meta.SHA256 {
		f.Close()
		os.Remove(partial)
		return nil, &ChecksumError{File: name, Algorithm: "sha256", Want: meta.SHA256, Got: got}
	}
	if meta.GitSHA1 != "" {
		g := gitBlobHash(have)
		if _, err := io.Copy(g, io.NewSectionReader(f, 0, have)); err != nil {
			return nil, fmt.Errorf("hub: reading %s: %w", partial, err)
		}
		if h := hex.EncodeToString(g.Sum(nil)); h != meta.GitSHA1 {
			f.Close()
			os.Remove(partial)
			return nil, &ChecksumError{File: name, Algorithm: "git-sha1", Want: meta.GitSHA1, Got: h}
		}
	}
	if meta.SHA256 == "" && meta.GitSHA1 == "" {
		c.logf("warning: the server gave no checksum for %s; only its size was checked", name)
	}
	e := &Entry{Repo: r.Repo, File: name, URL: src, Size: have, SHA256: got,
		ETag: meta.ETag, Commit: meta.Commit, Downloaded: time.Now().UTC().Truncate(time.Second)}
	if r.Repo != "" {
		e.Revision = r.revision()
	}
	if err := writeEntry(dst, e); err != nil {
		return nil, diskErr(c.CacheDir, err)
	}
	if err := os.Rename(partial, dst); err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	e.Path, _ = filepath.Abs(dst)
	c.logf("saved %s (%s, sha256 %s)", e.Path, formatBytes(have), got)
	return e, nil
}

// get streams the body into f from offset have, returning the new size.
func (c *Client) get(ctx context.Context, f *os.File, sum hash.Hash, prog *progress, meta *remote, have int64) (int64, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errStalled := fmt.Errorf("no data received for %v", c.StallTimeout)
	var stall *time.Timer
	if c.StallTimeout > 0 {
		stall = time.AfterFunc(c.StallTimeout, func() { cancel(errStalled) })
		defer stall.Stop()
	}
	req, err := c.newRequest(rctx, http.MethodGet, meta.Location)
	if err != nil {
		return have, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return have, netErr(ctx, meta.Location, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", have)) {
			return have, fmt.Errorf("hub: %s: server answered range %d- with %q", meta.Location, have, resp.Header.Get("Content-Range"))
		}
	case http.StatusOK:
		if have > 0 { // the server ignored the range: start over
			if err := f.Truncate(0); err != nil {
				return have, diskErr(c.CacheDir, err)
			}
			have = 0
			sum.Reset()
			prog.restart()
		}
	case http.StatusRequestedRangeNotSatisfiable:
		f.Truncate(0)
		return 0, &retryable{fmt.Errorf("hub: %s: the server refused to resume at byte %d; starting over", meta.Location, have)}
	default:
		return have, c.httpError(resp, meta.Location)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return have, fmt.Errorf("hub: %w", err)
	}
	var w io.Writer = f
	if c.wrapFile != nil {
		w = c.wrapFile(f)
	}
	// Chunked writes keep the file's page cache in huge folios, so the
	// model is mapped with huge pages right after its download.
	bw := mmapfile.NewWriter(w, have)
	buf := make([]byte, 1<<20)
	for {
		n, rerr := resp.Body.Read(buf)
		if stall != nil {
			stall.Reset(c.StallTimeout)
		}
		if n > 0 {
			if meta.Size >= 0 && have+int64(n) > meta.Size {
				f.Truncate(0)
				return 0, fmt.Errorf("hub: %s: the server sent more than the %d bytes it announced", meta.Location, meta.Size)
			}
			if _, err := bw.Write(buf[:n]); err != nil {
				return have, diskErr(c.CacheDir, err)
			}
			sum.Write(buf[:n])
			prog.add(int64(n))
			have += int64(n)
		}
		if rerr != nil {
			// Whatever happened, what was received goes to disk: a retry
			// resumes from the file's size.
			if err := bw.Flush(); err != nil {
				return have, diskErr(c.CacheDir, err)
			}
		}
		if rerr == io.EOF {
			return have, nil
		}
		if rerr != nil {
			if cause := context.Cause(rctx); errors.Is(cause, errStalled) && ctx.Err() == nil {
				rerr = errStalled
			}
			return have, netErr(ctx, meta.Location, rerr)
		}
	}
}

// diskErr explains a failed write; a full disk keeps the partial file so
// that the next pull resumes once space is freed.
func diskErr(dir string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("hub: disk full while writing to %s: free some space (or use --cache on another disk) and run the command again to resume: %w", dir, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("hub: %w", err)
	}
	return fmt.Errorf("hub: writing to %s: %w", dir, err)
}

// gitBlobHash is git's object id of a blob of n bytes: SHA-1 over
// "blob <n>\x00" and the content. The hub's ETag for non-LFS files is that id.
func gitBlobHash(n int64) hash.Hash {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", n)
	return h
}
