package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smolbot/smolbot/store"
)

// uiClient is a browser-like client of the web UI: it sends HTMX headers
// and does not follow redirects.
type uiClient struct {
	t  testing.TB
	ts *testServer
	c  *http.Client
}

func newUIClient(t testing.TB, ts *testServer) *uiClient {
	return &uiClient{t: t, ts: ts, c: &http.Client{
		Jar:           newJar(t),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (u *uiClient) do(method, path string, form url.Values) (int, http.Header, string) {
	u.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.ts.url(path), body)
	if err != nil {
		u.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("HX-Request", "true")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := u.c.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		u.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// events reads an answer's event stream to its end.
func (u *uiClient) events(path string) []sseEvent {
	u.t.Helper()
	resp, err := u.c.Get(u.ts.url(path))
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		u.t.Fatalf("events %s: %d", path, resp.StatusCode)
	}
	return readSSE(u.t, resp.Body)
}

var (
	sseConnectRE = regexp.MustCompile(`sse-connect="([^"]+)"`)
	msgIDRE      = regexp.MustCompile(`id="m-([0-9a-f-]+)"`)
)

// firstMessage starts a chat and returns its session id and the event
// stream path of the answer.
func (u *uiClient) firstMessage(content string, thinking bool) (sid string) {
	u.t.Helper()
	form := url.Values{"content": {content}}
	if thinking {
		form.Set("thinking", "on")
	}
	code, h, body := u.do("POST", "/chat", form)
	if code != 204 || !strings.HasPrefix(h.Get("HX-Redirect"), "/s/") {
		u.t.Fatalf("POST /chat: %d %q %s", code, h.Get("HX-Redirect"), body)
	}
	return strings.TrimPrefix(h.Get("HX-Redirect"), "/s/")
}

func (u *uiClient) page(sid string) string {
	u.t.Helper()
	code, _, body := u.do("GET", "/s/"+sid, nil)
	if code != 200 {
		u.t.Fatalf("GET /s/%s: %d", sid, code)
	}
	return body
}

func lastEvent(evs []sseEvent) sseEvent {
	if len(evs) == 0 {
		return sseEvent{}
	}
	return evs[len(evs)-1]
}

func TestWebChatFlow(t *testing.T) {
	ts := startServer(t, newModel(t, thinkScript), Config{})
	u := newUIClient(t, ts)
	ctx := context.Background()

	sid := u.firstMessage("Hello <b>bold</b> & co", true)
	pg := u.page(sid)
	m := sseConnectRE.FindStringSubmatch(pg)
	if m == nil {
		// Already finished: fine, the page shows the final answer.
		if !strings.Contains(pg, "Ok! Sure") {
			t.Fatalf("page has neither a live answer nor the answer:\n%s", pg)
		}
	} else {
		evs := u.events(m[1])
		last := lastEvent(evs)
		if last.Name != "done" || !strings.Contains(last.Data, "Ok! Sure") || strings.Contains(last.Data, "sse-connect") {
			t.Fatalf("last event %+v", last)
		}
	}
	// The user's HTML is shown as text; the title comes from the message.
	pg = u.page(sid)
	if !strings.Contains(pg, "Hello &lt;b&gt;bold&lt;/b&gt; &amp; co") || strings.Contains(pg, "<b>bold</b>") {
		t.Fatal("user message not escaped")
	}
	sess, err := ts.store.Session(ctx, sid)
	if err != nil || sess.Title != "Hello <b>bold</b> & co" || !sess.Settings.Thinking {
		t.Fatalf("session %+v %v", sess, err)
	}
	msgs, _ := ts.store.Messages(ctx, sid)
	if len(msgs) != 2 || msgs[1].Content != "Ok! Sure" || msgs[1].Thinking != "Why?" ||
		msgs[1].State != store.StateDone || msgs[1].Stats.GenTokens == 0 || msgs[1].Stats.StopReason != StopEOS || !msgs[1].ThinkingEnabled {
		t.Fatalf("stored messages %+v", msgs)
	}
	if !strings.Contains(pg, `<details class="thinking">`) || !strings.Contains(pg, "tokens") {
		t.Fatal("finished answer lacks the thinking block or stats")
	}

	// Second turn without thinking reuses the session's KV cache.
	code, _, body := u.do("POST", "/s/"+sid+"/messages", url.Values{"content": {"again"}})
	if code != 200 || !strings.Contains(body, "again") {
		t.Fatalf("send: %d %s", code, body)
	}
	if m := sseConnectRE.FindStringSubmatch(body); m != nil {
		u.events(m[1])
	}
	waitFor(t, "second answer done", func() bool { return ts.jobs.count() == 0 })
	msgs, _ = ts.store.Messages(ctx, sid)
	if len(msgs) != 4 || msgs[3].State != store.StateDone || msgs[3].ThinkingEnabled || msgs[3].Stats.CachedTokens == 0 {
		t.Fatalf("second turn %+v", msgs[3])
	}

	// Regenerate replaces the last answer.
	oldID := msgs[3].ID
	code, _, body = u.do("POST", "/s/"+sid+"/regenerate", nil)
	if code != 200 || strings.Contains(body, oldID) || len(msgIDRE.FindAllString(body, -1)) != 4 {
		t.Fatalf("regenerate: %d %s", code, body)
	}
	waitFor(t, "regenerated", func() bool { return ts.jobs.count() == 0 })

	// Edit the last user message.
	msgs, _ = ts.store.Messages(ctx, sid)
	code, _, body = u.do("GET", "/s/"+sid+"/m/"+msgs[2].ID+"/edit", nil)
	if code != 200 || !strings.Contains(body, "<textarea") || !strings.Contains(body, ">again</textarea>") {
		t.Fatalf("edit form: %d %s", code, body)
	}
	code, _, _ = u.do("POST", "/s/"+sid+"/m/"+msgs[0].ID+"/edit", url.Values{"content": {"not the last"}})
	if code != 400 {
		t.Fatalf("editing an older message: %d", code)
	}
	code, _, body = u.do("POST", "/s/"+sid+"/m/"+msgs[2].ID+"/edit", url.Values{"content": {"edited"}, "thinking": {"on"}})
	if code != 200 || !strings.Contains(body, "edited") || strings.Contains(body, ">again<") {
		t.Fatalf("edit: %d %s", code, body)
	}
	waitFor(t, "edited answer", func() bool { return ts.jobs.count() == 0 })
	msgs, _ = ts.store.Messages(ctx, sid)
	if len(msgs) != 4 || msgs[2].Content != "edited" || !msgs[3].ThinkingEnabled || msgs[3].State != store.StateDone {
		t.Fatalf("after edit %+v", msgs)
	}

	// Rename, settings, and the sidebar.
	code, _, body = u.do("POST", "/s/"+sid+"/title", url.Values{"title": {"  My   chat "}})
	if code != 200 || !strings.Contains(body, "My chat") {
		t.Fatalf("rename: %d %s", code, body)
	}
	code, _, body = u.do("POST", "/s/"+sid+"/settings", url.Values{
		"system": {"Be terse."}, "temperature": {"0.2"}, "top_p": {"0.9"}, "top_k": {"20"}, "min_p": {"0.1"},
		"max_tokens": {"64"}, "seed": {"7"}, "context": {"1024"},
	})
	if code != 200 || !strings.Contains(body, "Saved.") {
		t.Fatalf("settings: %d %s", code, body)
	}
	sess, _ = ts.store.Session(ctx, sid)
	st := sess.Settings
	if st.System != "Be terse." || *st.Temperature != 0.2 || *st.TopP != 0.9 || *st.TopK != 20 || *st.MinP != 0.1 ||
		st.MaxTokens != 64 || *st.Seed != 7 || st.Context != 1024 || st.Thinking || sess.Title != "My chat" {
		t.Fatalf("settings stored %+v", sess)
	}
	if code, _, body = u.do("POST", "/s/"+sid+"/settings", url.Values{"temperature": {"9"}}); code != 400 || !strings.Contains(body, "temperature") {
		t.Fatalf("bad settings: %d %s", code, body)
	}
	if !strings.Contains(u.page(sid), "My chat") {
		t.Fatal("sidebar lacks the renamed chat")
	}

	// Delete.
	code, h, _ := u.do("DELETE", "/s/"+sid, nil)
	if code != 204 || h.Get("HX-Redirect") != "/" {
		t.Fatalf("delete: %d %v", code, h)
	}
	if code, h, body := u.do("GET", "/s/"+sid, nil); code != 404 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "does not exist") || !strings.Contains(body, `href="/"`) {
		t.Fatalf("deleted chat: %d %v %s", code, h, body)
	}
}

// TestNotFound checks the answers for paths the server does not serve: a
// page leading back to the chats for a browser, OpenAI's error JSON under
// /v1/, a short message for a stray form post.
func TestNotFound(t *testing.T) {
	ts := startServer(t, newModel(t, loopScript), Config{})
	u := newUIClient(t, ts)
	code, h, body := u.do("GET", "/no/such/page", nil)
	if code != 404 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "There is no page at /no/such/page.") || !strings.Contains(body, `href="/"`) {
		t.Fatalf("unknown page: %d %v %s", code, h, body)
	}
	if strings.Contains(body, "<script>alert") {
		t.Fatal("path echoed unescaped")
	}
	if code, _, body := u.do("GET", "/<script>alert(1)</script>", nil); code != 404 || strings.Contains(body, "<script>alert") {
		t.Fatalf("unknown page with markup in the path: %d %s", code, body)
	}
	code, h, body = u.do("GET", "/v1/no-such-endpoint", nil)
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || code != 404 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") ||
		e.Error.Code != "unknown_url" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, "GET /v1/no-such-endpoint") {
		t.Fatalf("unknown API path: %d %v %s (%v)", code, h, body, err)
	}
	code, h, body = u.do("GET", "/v1/chat/completions", nil)
	if code != 405 || h.Get("Allow") != "POST, OPTIONS" || !strings.Contains(body, `"method_not_allowed"`) {
		t.Fatalf("GET on the completions endpoint: %d %v %s", code, h, body)
	}
	if code, _, body := u.do("POST", "/no/such/form", url.Values{"a": {"b"}}); code != 404 || !strings.Contains(body, "unknown request URL: POST /no/such/form") {
		t.Fatalf("unknown form post: %d %s", code, body)
	}
	code, h, _ = u.do("POST", "/v1/models", nil)
	if code != 405 || h.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Fatalf("POST on the models endpoint: %d %v", code, h)
	}
	// Web UI routes asked with another method: 405 with the methods the
	// route takes, a page for a browser's GET, a short message otherwise.
	code, h, body = u.do("GET", "/s/0190a5b2-0000-7000-8000-000000000000/stop", nil)
	if code != 405 || h.Get("Allow") != "POST" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "takes POST requests") || !strings.Contains(body, `href="/"`) {
		t.Fatalf("GET on a stop action: %d %v %s", code, h, body)
	}
	code, h, body = u.do("POST", "/s/0190a5b2-0000-7000-8000-000000000000", url.Values{"a": {"b"}})
	if code != 405 || h.Get("Allow") != "GET, HEAD, DELETE" || !strings.Contains(body, "does not take POST") {
		t.Fatalf("POST on a chat page: %d %v %s", code, h, body)
	}
	// The real routes still answer.
	if code, _, _ := u.do("GET", "/", nil); code != 200 {
		t.Fatalf("home: %d", code)
	}
	if code, _, _ := u.do("GET", "/v1/models", nil); code != 200 {
		t.Fatalf("models: %d", code)
	}
}

func TestWebStopAndBusy(t *testing.T) {
	ts := startServer(t, newModel(t, loopScript), Config{TokenDelay: 5 * time.Millisecond, SaveEvery: 10 * time.Millisecond})
	u := newUIClient(t, ts)
	ctx := context.Background()
	sid := u.firstMessage("go", false)
	msgs, _ := ts.store.Messages(ctx, sid)
	asst := msgs[1]
	// Tokens are saved while streaming.
	waitFor(t, "partial answer saved", func() bool {
		m, err := ts.store.Message(ctx, asst.ID)
		return err == nil && m.State == store.StateStreaming && strings.Contains(m.Content, "abc abc")
	})
	// One answer at a time per chat.
	if code, _, body := u.do("POST", "/s/"+sid+"/messages", url.Values{"content": {"more"}}); code != 409 {
		t.Fatalf("second send while busy: %d %s", code, body)
	}
	if code, _, _ := u.do("POST", "/s/"+sid+"/stop", nil); code != 204 {
		t.Fatalf("stop: %d", code)
	}
	m, err := ts.store.Message(ctx, asst.ID)
	if err != nil || m.State != store.StateStopped || m.Stats.StopReason != StopCancelled || !strings.HasPrefix(m.Content, "abc") {
		t.Fatalf("stopped message %+v %v", m, err)
	}
	evs := u.events("/s/" + sid + "/m/" + asst.ID + "/events")
	if len(evs) != 1 || evs[0].Name != "done" || !strings.Contains(evs[0].Data, "stopped") {
		t.Fatalf("events of a stopped answer: %+v", evs)
	}
	if lm := ts.model.Load(); lm.sched.Stats().Running != 0 {
		t.Fatal("generation still running after stop")
	}
}

// TestWebDetachedStops: a UI generation nobody watches is stopped after the
// grace period and stored as stopped.
func TestWebDetachedStops(t *testing.T) {
	ts := startServer(t, newModel(t, loopScript), Config{TokenDelay: 5 * time.Millisecond, DetachGrace: 100 * time.Millisecond})
	u := newUIClient(t, ts)
	sid := u.firstMessage("go", false)
	waitFor(t, "detached job stopped", func() bool { return ts.jobs.count() == 0 })
	msgs, _ := ts.store.Messages(context.Background(), sid)
	if msgs[1].State != store.StateStopped {
		t.Fatalf("state %s", msgs[1].State)
	}
}

// TestWebShutdownStores: shutting down stops generations and stores the
// partial answers as stopped.
func TestWebShutdownStores(t *testing.T) {
	ts := startServer(t, newModel(t, loopScript), Config{TokenDelay: 5 * time.Millisecond})
	u := newUIClient(t, ts)
	sid := u.firstMessage("go", false)
	ctx := context.Background()
	waitFor(t, "streaming", func() bool {
		msgs, _ := ts.store.Messages(ctx, sid)
		return len(msgs) == 2 && msgs[1].State == store.StateStreaming
	})
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	msgs, _ := ts.store.Messages(ctx, sid)
	if msgs[1].State != store.StateStopped {
		t.Fatalf("after shutdown: %s", msgs[1].State)
	}
	if code, _, _ := u.do("POST", "/s/"+sid+"/messages", url.Values{"content": {"x"}}); code != 503 {
		t.Fatalf("send after shutdown: %d", code)
	}
}

// TestMarkdownInjection: HTML and markdown tricks in a message never become
// markup on the page, and the page's policy forbids inline script anyway.
func TestMarkdownInjection(t *testing.T) {
	ts := startServer(t, newModel(t, plainScript), Config{})
	u := newUIClient(t, ts)
	sid := u.firstMessage(`<script>alert("user")</script><img src=x onerror=alert(6)> [x](javascript:alert(7))`, false)
	waitFor(t, "answer", func() bool { return ts.jobs.count() == 0 })
	code, h, pg := u.do("GET", "/s/"+sid, nil)
	for _, bad := range []string{"<script>alert", "<img", `href="javascript:`} {
		if strings.Contains(pg, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(pg, `&lt;script&gt;alert(&#34;user&#34;)&lt;/script&gt;`) {
		t.Error("the user's HTML should show as text")
	}
	if code != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("CSP: %q", h.Get("Content-Security-Policy"))
	}
	if n := strings.Count(pg, "<script"); n != 3 {
		t.Fatalf("%d script tags, want the 3 static ones", n)
	}
}

// TestRenderMarkdownSanitizes feeds model-style output through the renderer
// the pages use.
func TestRenderMarkdownSanitizes(t *testing.T) {
	for _, tc := range []struct{ in, mustNot, must string }{
		{"<script>alert(1)</script>", "<script", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"x <img src=x onerror=alert(2)> y", "<img", "&lt;img src=x onerror=alert(2)&gt;"},
		{"[x](javascript:alert(3))", "javascript:", ""},
		{`<a href="javascript:alert(4)">y</a>`, "<a ", "&lt;a href="},
		{"<iframe src=\"https://evil\"></iframe>", "<iframe", ""},
		{"```html\n<script>alert(5)</script>\n```", "<script", "&lt;"},
		{"![img](https://evil/x.png)", "", ""},
		{"[ok](https://example.com)", "", `rel="nofollow noreferrer noopener"`},
		{"**bold** and `code`", "", "<strong>bold</strong>"},
		{"```go\nfunc main() {}\n```", "", `<span class="kd">func</span>`},
		{"| a | b |\n|---|---|\n| 1 | 2 |", "", "<table>"},
		{"- [x] done", "", `type="checkbox"`},
	} {
		got := string(renderMarkdown(tc.in))
		if tc.mustNot != "" && strings.Contains(got, tc.mustNot) {
			t.Errorf("%q renders %q, which contains %q", tc.in, got, tc.mustNot)
		}
		if tc.must != "" && !strings.Contains(got, tc.must) {
			t.Errorf("%q renders %q, which lacks %q", tc.in, got, tc.must)
		}
	}
}

func TestTitleFrom(t *testing.T) {
	for in, want := range map[string]string{
		"  hello\nsecond line":    "hello",
		"a   b\tc":                "a b c",
		strings.Repeat("ab ", 40): strings.TrimSpace(strings.Repeat("ab ", 20)) + "…",
	} {
		if got := titleFrom(in); got != want {
			t.Errorf("titleFrom(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWebQueuePosition: a chat waiting for the model shows its place in
// the queue, then runs once the model is free.
func TestWebQueuePosition(t *testing.T) {
	ts := startServer(t, newModel(t, loopScript), Config{Parallel: 1, TokenDelay: 2 * time.Millisecond})
	u := newUIClient(t, ts)
	a := u.firstMessage("first", false)
	waitFor(t, "first chat generating", func() bool { return ts.model.Load().sched.Stats().Running == 1 })
	b := u.firstMessage("second", false)
	msgs, _ := ts.store.Messages(context.Background(), b)
	resp, err := u.c.Get(u.ts.url("/s/" + b + "/m/" + msgs[1].ID + "/events"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read events until the queue position shows, then free the model.
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "position 1 in the queue") {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("stream ended before the queue position: %v\n%s", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	if code, _, _ := u.do("POST", "/s/"+a+"/stop", nil); code != 204 {
		t.Fatal("stop failed")
	}
	waitFor(t, "second chat generating", func() bool {
		m, _ := ts.store.Message(context.Background(), msgs[1].ID)
		return m.State == store.StateStreaming && m.Content != ""
	})
	u.do("POST", "/s/"+b+"/stop", nil)
}

// TestEvictedSessionRebuilt: with no room for idle KV caches, a session's
// cache is evicted after each turn and the next turn rebuilds it from the
// stored conversation, transparently.
func TestEvictedSessionRebuilt(t *testing.T) {
	ts := startServer(t, newModel(t, thinkScript), Config{KVBudget: -1})
	u := newUIClient(t, ts)
	sid := u.firstMessage("one", true)
	waitFor(t, "first answer", func() bool { return ts.jobs.count() == 0 })
	if st := ts.model.Load().sched.Stats(); st.Sequences != 0 || st.Evictions == 0 {
		t.Fatalf("idle cache kept with a zero budget: %+v", st)
	}
	if code, _, _ := u.do("POST", "/s/"+sid+"/messages", url.Values{"content": {"two"}, "thinking": {"on"}}); code != 200 {
		t.Fatalf("second turn: %d", code)
	}
	waitFor(t, "second answer", func() bool { return ts.jobs.count() == 0 })
	msgs, _ := ts.store.Messages(context.Background(), sid)
	if len(msgs) != 4 || msgs[3].Content != "Ok! Sure" || msgs[3].State != store.StateDone || msgs[3].Stats.CachedTokens != 0 ||
		msgs[3].Stats.PromptTokens <= msgs[1].Stats.PromptTokens {
		t.Fatalf("rebuilt turn: %+v", msgs[3])
	}
}

func TestMetrics(t *testing.T) {
	ts := startServer(t, newModel(t, plainScript), Config{})
	ts.postJSON(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`).Body.Close()
	resp, err := http.Get(ts.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{
		`smolbot_http_requests_total{code="200",route="POST /v1/chat/completions"} 1`,
		"smolbot_prompt_tokens_total", "smolbot_generated_tokens_total 5", "smolbot_time_to_first_token_seconds_bucket",
		"smolbot_decode_tokens_per_second_bucket", "smolbot_queue_depth 0", "smolbot_active_sessions 1", "smolbot_model_loaded 1",
		`smolbot_generations_total{stop_reason="eos"} 1`,
	} {
		if !strings.Contains(string(b), name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}
