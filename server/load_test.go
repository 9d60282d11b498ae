package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smolbot/smolbot/api"
	"github.com/smolbot/smolbot/store"
)

// TestLoad: 32 concurrent streaming clients on loopback, half through the
// API and half through the web UI, against a queue that cannot hold them
// all. Every stream completes or is cleanly refused (429), every accepted
// web chat is stored whole, and no goroutine outlives the test.
func TestLoad(t *testing.T) {
	const clients = 32
	before := runtime.NumGoroutine()
	ts := startServer(t, newModel(t, thinkScript), Config{Parallel: 2, MaxQueue: 20, TokenDelay: time.Millisecond})
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: transport, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	type outcome struct {
		ok, rejected bool
		sid          string
		err          error
	}
	results := make([]outcome, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			if i%2 == 0 {
				results[i] = loadAPI(ctx, client, ts, i)
			} else {
				results[i] = loadUI(ctx, client, ts, i)
			}
		})
	}
	wg.Wait()
	var ok, rejected int
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("client %d: %v", i, r.err)
		case r.ok:
			ok++
		case r.rejected:
			rejected++
		}
	}
	t.Logf("%d completed, %d refused with 429", ok, rejected)
	if ok+rejected != clients || ok < 22 { // 2 running + 20 queued fit at once
		t.Fatalf("%d completed, %d refused of %d", ok, rejected, clients)
	}
	// Every accepted web chat is stored whole.
	for i, r := range results {
		if r.sid == "" {
			continue
		}
		msgs, err := ts.store.Messages(ctx, r.sid)
		if err != nil || len(msgs) != 2 || msgs[1].State != store.StateDone ||
			msgs[1].Content != "Ok! Sure" || msgs[1].Thinking != "Why?" {
			t.Errorf("client %d: stored %+v %v", i, msgs, err)
		}
	}
	st := ts.model.Load().sched.Stats()
	if st.Running != 0 || st.Waiting != 0 || ts.jobs.count() != 0 {
		t.Fatalf("after the load: %+v, %d jobs", st, ts.jobs.count())
	}
	// No goroutine leak: once idle connections are closed, the count comes
	// back to (about) where it started.
	transport.CloseIdleConnections()
	ts.http.CloseClientConnections()
	waitFor(t, "goroutines to wind down", func() bool {
		return runtime.NumGoroutine() <= before+8
	})
}

func loadAPI(ctx context.Context, c *http.Client, ts *testServer, i int) (o struct {
	ok, rejected bool
	sid          string
	err          error
}) {
	body := fmt.Sprintf(`{"messages":[{"role":"user","content":"client %d"}],"stream":true}`, i)
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.url("/v1/chat/completions"), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		var e api.ErrorResponse
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error.Type != "rate_limit_exceeded" {
			o.err = fmt.Errorf("429 body: %+v %v", e, err)
		}
		o.rejected = true
		return o
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		o.err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
		return o
	}
	var content strings.Builder
	done := false
	for _, e := range readSSEErr(resp.Body, &o.err) {
		if e.Data == "[DONE]" {
			done = true
			continue
		}
		var ch api.ChatCompletionChunk
		if err := json.Unmarshal([]byte(e.Data), &ch); err != nil {
			o.err = err
			return o
		}
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != nil {
			content.WriteString(*ch.Choices[0].Delta.Content)
		}
	}
	if o.err == nil && (!done || content.String() != "Ok! Sure") {
		o.err = fmt.Errorf("incomplete stream: done=%v content=%q", done, content.String())
	}
	o.ok = o.err == nil
	return o
}

func loadUI(ctx context.Context, c *http.Client, ts *testServer, i int) (o struct {
	ok, rejected bool
	sid          string
	err          error
}) {
	form := url.Values{"content": {fmt.Sprintf("client %d", i)}, "thinking": {"on"}}
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.url("/chat"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	resp, err := c.Do(req)
	if err != nil {
		o.err = err
		return o
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		o.rejected = true
		return o
	}
	loc := resp.Header.Get("HX-Redirect")
	if resp.StatusCode != 204 || !strings.HasPrefix(loc, "/s/") {
		o.err = fmt.Errorf("POST /chat: %d %q", resp.StatusCode, loc)
		return o
	}
	o.sid = strings.TrimPrefix(loc, "/s/")
	msgs, err := ts.store.Messages(ctx, o.sid)
	if err != nil || len(msgs) != 2 {
		o.err = fmt.Errorf("messages after POST: %v %v", msgs, err)
		return o
	}
	req, _ = http.NewRequestWithContext(ctx, "GET", ts.url("/s/"+o.sid+"/m/"+msgs[1].ID+"/events"), nil)
	resp, err = c.Do(req)
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	evs := readSSEErr(resp.Body, &o.err)
	if o.err != nil {
		return o
	}
	if len(evs) == 0 || evs[len(evs)-1].Name != "done" || !strings.Contains(evs[len(evs)-1].Data, `data-state="done"`) {
		o.err = fmt.Errorf("event stream did not finish: %+v", evs)
		return o
	}
	o.ok = true
	return o
}

// readSSEErr is readSSE for goroutines: errors go to *errp, not t.Fatal.
func readSSEErr(r io.Reader, errp *error) []sseEvent {
	ft := &fakeTB{}
	evs := readSSE(ft, r)
	if ft.err != nil && *errp == nil {
		*errp = ft.err
	}
	return evs
}

// fakeTB captures Fatalf from helpers used off the test goroutine.
type fakeTB struct {
	testing.TB
	err error
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.err = fmt.Errorf(format, args...)
}
