package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smolbot/smolbot/api"
	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/store"
)

// remoteChat is `smolbot chat --url`: the terminal chat against a running
// server's OpenAI-compatible chat completions API, streamed. The server
// keeps no state for the API, so every turn sends the whole conversation;
// smolbot serve reuses the KV cache of the common prefix, so only the new
// turn is processed there too (the stats line shows the cached tokens).
type remoteChat struct {
	base    string // the server's root URL, without a trailing slash
	apiKey  string
	o       *chatOptions
	model   string // the served model's id, from /v1/models
	context int    // its context length, when the server says
	client  *http.Client
}

// newRemoteChat checks that the server answers and learns its model.
func newRemoteChat(ctx context.Context, o *chatOptions) (*remoteChat, error) {
	base := strings.TrimRight(o.url, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError("--url %q is not an http(s) URL such as http://127.0.0.1:8080", o.url)
	}
	base = strings.TrimSuffix(base, "/v1")
	r := &remoteChat{base: base, apiKey: o.apiKey, o: o, client: &http.Client{}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var list api.ModelList
	if err := r.get(ctx, "/v1/models", &list); err != nil {
		return nil, err
	}
	if len(list.Data) == 0 {
		return nil, fmt.Errorf("%s serves no model", r.base)
	}
	r.model, r.context = list.Data[0].ID, list.Data[0].ContextLength
	return r, nil
}

func (r *remoteChat) describe() string {
	d := r.model + " at " + r.base
	if r.context > 0 {
		d += fmt.Sprintf(" (context %d tokens)", r.context)
	}
	return d
}

func (r *remoteChat) request(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.apiKey)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach the server at %s: %w", r.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

// responseError turns an error response into an error with the server's
// own message (OpenAI's error JSON) where there is one.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e api.ErrorResponse
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	hint := ""
	if resp.StatusCode == http.StatusUnauthorized {
		hint = " (pass --api-key or set SMOLBOT_API_KEY)"
	}
	return fmt.Errorf("server: %s: %s%s", resp.Status, msg, hint)
}

func (r *remoteChat) get(ctx context.Context, path string, v any) error {
	resp, err := r.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s%s: %w", r.base, path, err)
	}
	return nil
}

// turn posts the conversation with stream: true and shows the deltas as
// they arrive: reasoning_content as thinking, content as the answer.
func (r *remoteChat) turn(ctx context.Context, system string, thinking bool, history []chat.Message, show func(th, c string)) (store.Stats, error) {
	req := api.ChatCompletionRequest{
		Model: r.model, Stream: true, StreamOptions: &api.StreamOptions{IncludeUsage: true},
		Temperature: r.o.params.Temperature, TopP: r.o.params.TopP, TopK: r.o.params.TopK, MinP: r.o.params.MinP,
		Seed: r.o.params.Seed, Stop: r.o.params.Stop,
		ChatTemplateKwargs: map[string]any{"enable_thinking": thinking},
	}
	if p := r.o.params.PresencePenalty; p != 0 {
		req.PresencePenalty = &p
	}
	if p := r.o.params.FrequencyPenalty; p != 0 {
		req.FrequencyPenalty = &p
	}
	if n := r.o.params.MaxTokens; n > 0 {
		req.MaxTokens = &n
	}
	if system != "" {
		req.Messages = append(req.Messages, api.ChatMessage{Role: "system", Content: api.MessageContent(system)})
	}
	for _, m := range history {
		req.Messages = append(req.Messages, api.ChatMessage{Role: m.Role, Content: api.MessageContent(m.Content)})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return store.Stats{}, err
	}
	start := time.Now()
	resp, err := r.request(ctx, http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return store.Stats{}, err
	}
	defer resp.Body.Close()
	var st store.Stats
	timed := false // the server sent its own timings
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue // blank separators, comments, event names
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			if !timed {
				st.Duration = time.Since(start)
			}
			return st, nil
		}
		var ch api.ChatCompletionChunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			var e api.ErrorResponse
			if json.Unmarshal([]byte(data), &e) == nil && e.Error.Message != "" {
				return st, fmt.Errorf("server: %s", e.Error.Message)
			}
			return st, fmt.Errorf("server sent a malformed event: %w", err)
		}
		for _, c := range ch.Choices {
			th, content := deref(c.Delta.ReasoningContent), deref(c.Delta.Content)
			if (th != "" || content != "") && st.TTFT == 0 {
				st.TTFT = time.Since(start)
			}
			show(th, content)
			if c.FinishReason != nil {
				st.StopReason = *c.FinishReason
			}
		}
		if u := ch.Usage; u != nil {
			st.PromptTokens, st.GenTokens = u.PromptTokens, u.CompletionTokens
			if d := u.PromptTokensDetails; d != nil {
				st.CachedTokens = d.CachedTokens
			}
		}
		if t := ch.Timings; t != nil {
			// The server's own figures leave out the network.
			timed = true
			st.TTFT = time.Duration(t.TimeToFirstTokenMS * float64(time.Millisecond))
			st.Duration = time.Duration(t.TotalMS * float64(time.Millisecond))
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, fmt.Errorf("reading the answer: %w", err)
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	return st, errors.New("the server ended the answer without [DONE]")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
