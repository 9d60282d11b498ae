package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smolbot/smolbot/api"
)

func TestBadRequests(t *testing.T) {
	ts := startServer(t, newModel(t, plainScript), Config{Context: 2048})
	big := `{"messages":[{"role":"user","content":"` + strings.Repeat("a", 1<<20) + `"}]}`
	long := `{"messages":[{"role":"user","content":"` + strings.Repeat("hello world ", 800) + `"}]}`
	for _, tc := range []struct {
		name, body string
		ctype      string
		status     int
		code       string
		param      string
	}{
		{"malformed json", `{"messages": [`, "", 400, "invalid_json", ""},
		{"not an object", `[1,2]`, "", 400, "invalid_type", ""},
		{"trailing garbage", `{"messages":[{"role":"user","content":"hi"}]} {}`, "", 400, "", ""},
		{"empty body", ``, "", 400, "", ""},
		{"wrong content type", `{"messages":[{"role":"user","content":"hi"}]}`, "text/plain", 400, "", ""},
		{"empty messages", `{"messages":[]}`, "", 400, "", "messages"},
		{"missing messages", `{"model":"x"}`, "", 400, "", "messages"},
		{"messages wrong type", `{"messages":"hi"}`, "", 400, "invalid_type", "messages"},
		{"content wrong type", `{"messages":[{"role":"user","content":42}]}`, "", 400, "", ""},
		{"image part", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, "", 400, "", ""},
		{"unknown role", `{"messages":[{"role":"wizard","content":"hi"}]}`, "", 400, "", "messages[0].role"},
		{"n=2", `{"messages":[{"role":"user","content":"hi"}],"n":2}`, "", 400, "", "n"},
		{"temperature", `{"messages":[{"role":"user","content":"hi"}],"temperature":7}`, "", 400, "", "temperature"},
		{"top_p", `{"messages":[{"role":"user","content":"hi"}],"top_p":0}`, "", 400, "", "top_p"},
		{"max_tokens", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, "", 400, "", "max_tokens"},
		{"stop too many", `{"messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}`, "", 400, "", "stop"},
		{"enable_thinking not bool", `{"messages":[{"role":"user","content":"hi"}],"chat_template_kwargs":{"enable_thinking":"no"}}`, "", 400, "", "chat_template_kwargs.enable_thinking"},
		{"over the context", long, "", 400, "context_length_exceeded", "messages"},
		{"1 MiB body", big, "", 413, "request_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.ctype != "" {
				resp = ts.postJSON(t, "/v1/chat/completions", tc.body, "Content-Type", tc.ctype)
			} else {
				resp = ts.postJSON(t, "/v1/chat/completions", tc.body)
			}
			if resp.StatusCode != tc.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			e := decodeBody[api.ErrorResponse](t, resp)
			if e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("error body %+v", e)
			}
			if tc.code != "" && (e.Error.Code == nil || *e.Error.Code != tc.code) {
				t.Fatalf("code %v, want %q (%s)", e.Error.Code, tc.code, e.Error.Message)
			}
			if tc.param != "" && (e.Error.Param == nil || *e.Error.Param != tc.param) {
				t.Fatalf("param %v, want %q (%s)", e.Error.Param, tc.param, e.Error.Message)
			}
		})
	}
	// curl -d's form content type gets a hint at the fix.
	viaForm := ts.postJSON(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "Content-Type", "application/x-www-form-urlencoded")
	if e := decodeBody[api.ErrorResponse](t, viaForm); viaForm.StatusCode != 400 ||
		!strings.Contains(e.Error.Message, "not application/x-www-form-urlencoded") || !strings.Contains(e.Error.Message, "-H 'Content-Type: application/json'") {
		t.Fatalf("form content type: %d %q", viaForm.StatusCode, e.Error.Message)
	}
	// Unknown fields (and known-but-unsupported ones) are accepted.
	resp := ts.postJSON(t, "/v1/chat/completions", `{"messages":[{"role":"developer","content":"be nice"},{"role":"user","content":[{"type":"text","text":"hi"}]}],
		"frobnicate":true,"logprobs":false,"user":"u1","response_format":{"type":"text"},"max_completion_tokens":5,"stop":"\n\n","seed":1}`)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("unknown fields: status %d: %s", resp.StatusCode, b)
	}
	resp.Body.Close()
	// The same oversized body on a web UI route: 413 as plain text.
	form := url.Values{"content": {strings.Repeat("a", 1<<20)}}
	r2, err := http.Post(ts.url("/chat"), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 413 {
		t.Fatalf("web UI 1 MiB post: status %d", r2.StatusCode)
	}
	// Still serving.
	resp = ts.postJSON(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("after bad requests: %d %s", resp.StatusCode, b)
	}
	if c := decodeBody[api.ChatCompletion](t, resp); c.Choices[0].Message.Content != "Fine." {
		t.Fatalf("after bad requests: %+v", c)
	}
}

func TestAuthAndCORS(t *testing.T) {
	ts := startServer(t, newModel(t, plainScript), Config{APIKey: "k1", CORSOrigin: "https://app.example"})
	body := `{"messages":[{"role":"user","content":"hi"}]}`
	resp := ts.postJSON(t, "/v1/chat/completions", body)
	if resp.StatusCode != 401 {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	e := decodeBody[api.ErrorResponse](t, resp)
	if e.Error.Type != "authentication_error" {
		t.Fatalf("error %+v", e)
	}
	resp = ts.postJSON(t, "/v1/chat/completions", body, "Authorization", "Bearer k1")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("with key: %d, CORS %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp.Body.Close()
	// Preflight works without a key.
	req, _ := http.NewRequest("OPTIONS", ts.url("/v1/chat/completions"), nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != 204 || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight %d %v", pre.StatusCode, pre.Header)
	}
	// UI mutating routes need the key too; pages stay readable.
	form := url.Values{"content": {"hi"}}
	r2, _ := http.Post(ts.url("/chat"), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	r2.Body.Close()
	if r2.StatusCode != 401 {
		t.Fatalf("UI post without key: %d", r2.StatusCode)
	}
	r3, _ := http.Get(ts.url("/"))
	b, _ := io.ReadAll(r3.Body)
	r3.Body.Close()
	if r3.StatusCode != 200 || !bytes.Contains(b, []byte("Sign in")) {
		t.Fatalf("page without key: %d", r3.StatusCode)
	}
	// Signing in sets a cookie that authorizes UI posts.
	jar := newJar(t)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	bad, _ := c.PostForm(ts.url("/login"), url.Values{"key": {"nope"}})
	bad.Body.Close()
	if bad.StatusCode != 401 {
		t.Fatalf("wrong key sign-in: %d", bad.StatusCode)
	}
	ok, _ := c.PostForm(ts.url("/login"), url.Values{"key": {"k1"}})
	ok.Body.Close()
	if ok.StatusCode != 303 {
		t.Fatalf("sign-in: %d", ok.StatusCode)
	}
	r4, _ := c.PostForm(ts.url("/chat"), form)
	r4.Body.Close()
	if r4.StatusCode != 303 || !strings.HasPrefix(r4.Header.Get("Location"), "/s/") {
		t.Fatalf("UI post signed in: %d %q", r4.StatusCode, r4.Header.Get("Location"))
	}
	// Cross-site posts are refused even with the cookie.
	req, _ = http.NewRequest("POST", ts.url("/chat"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	r5, _ := c.Do(req)
	r5.Body.Close()
	if r5.StatusCode != 403 {
		t.Fatalf("cross-site post: %d", r5.StatusCode)
	}
}

func TestHealthBeforeLoad(t *testing.T) {
	ts := startServer(t, nil, Config{})
	get := func(path string) int {
		r, err := http.Get(ts.url(path))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if c := get("/healthz"); c != 503 {
		t.Fatalf("healthz before load: %d", c)
	}
	if c := get("/"); c != 200 {
		t.Fatalf("page before load: %d", c)
	}
	resp := ts.postJSON(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 503 {
		t.Fatalf("completion before load: %d", resp.StatusCode)
	}
	if e := decodeBody[api.ErrorResponse](t, resp); e.Error.Code == nil || *e.Error.Code != "model_loading" {
		t.Fatalf("error %+v", e)
	}
	ts.SetModel(newModel(t, plainScript))
	if c := get("/healthz"); c != 200 {
		t.Fatalf("healthz after load: %d", c)
	}
}

// TestStreamCancel: a client that goes away mid-stream stops generation,
// and one that gives up while queued leaves the queue.
func TestStreamCancel(t *testing.T) {
	ts := startServer(t, newModel(t, loopScript), Config{TokenDelay: 5 * time.Millisecond})
	lm := ts.model.Load()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.url("/v1/chat/completions"), strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"stream":true}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	if _, err := resp.Body.Read(buf); err != nil { // at least one chunk arrived
		t.Fatal(err)
	}
	// A second request queues behind the first.
	ctx2, cancel2 := context.WithCancel(context.Background())
	req2, _ := http.NewRequestWithContext(ctx2, "POST", ts.url("/v1/chat/completions"), strings.NewReader(`{"messages":[{"role":"user","content":"hey"}],"stream":true}`))
	req2.Header.Set("Content-Type", "application/json")
	done2 := make(chan struct{})
	go func() {
		defer close(done2)
		if r, err := http.DefaultClient.Do(req2); err == nil {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
	}()
	waitFor(t, "second request queued", func() bool { return lm.sched.Stats().Waiting == 1 })
	cancel2()
	<-done2
	waitFor(t, "queue empty after cancel", func() bool { return lm.sched.Stats().Waiting == 0 })
	cancel()
	resp.Body.Close()
	waitFor(t, "generation stopped after disconnect", func() bool { return lm.sched.Stats().Running == 0 })
	if got := counterValue(t, ts.Server, "smolbot_generations_total", "cancelled"); got < 1 {
		t.Fatalf("cancelled generations: %v", got)
	}
}

// waitFor polls cond (no timing assertions: only a generous deadline).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
