package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/smolbot/smolbot/api"
)

func TestChatCompletionNonStream(t *testing.T) {
	ts := startServer(t, newModel(t, thinkScript), Config{})
	resp := ts.postJSON(t, "/v1/chat/completions", `{"model":"x","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	c := decodeBody[api.ChatCompletion](t, resp)
	if len(c.Choices) != 1 {
		t.Fatalf("choices: %+v", c)
	}
	ch := c.Choices[0]
	if ch.Message.Content != "Ok! Sure" || ch.Message.ReasoningContent != "Why?" || ch.FinishReason != "stop" {
		t.Fatalf("message %+v finish %q", ch.Message, ch.FinishReason)
	}
	if c.Object != "chat.completion" || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Usage == nil ||
		c.Usage.CompletionTokens == 0 || c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens {
		t.Fatalf("envelope/usage: %+v %+v", c, c.Usage)
	}
}

func TestChatCompletionStreamRaw(t *testing.T) {
	ts := startServer(t, newModel(t, thinkScript), Config{})
	resp := ts.postJSON(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readSSE(t, resp.Body)
	if len(events) < 4 || events[len(events)-1].Data != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %+v", events)
	}
	var reasoning, content strings.Builder
	var finish string
	var usage *api.Usage
	for i, e := range events[:len(events)-1] {
		var c api.ChatCompletionChunk
		if err := json.Unmarshal([]byte(e.Data), &c); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, e.Data)
		}
		if i == 0 && (len(c.Choices) != 1 || c.Choices[0].Delta.Role != "assistant") {
			t.Fatalf("first chunk must carry the role: %s", e.Data)
		}
		if c.Usage != nil {
			usage = c.Usage
			if len(c.Choices) != 0 || i != len(events)-2 {
				t.Fatalf("usage chunk must be last and have no choices: %s", e.Data)
			}
			continue
		}
		d := c.Choices[0].Delta
		if d.ReasoningContent != nil {
			reasoning.WriteString(*d.ReasoningContent)
		}
		if d.Content != nil {
			content.WriteString(*d.Content)
		}
		if f := c.Choices[0].FinishReason; f != nil {
			finish = *f
		}
	}
	if reasoning.String() != "Why?" || content.String() != "Ok! Sure" || finish != "stop" {
		t.Fatalf("reasoning %q content %q finish %q", reasoning.String(), content.String(), finish)
	}
	if usage == nil || usage.CompletionTokens == 0 || usage.PromptTokens == 0 {
		t.Fatalf("usage %+v", usage)
	}
}

func TestThinkingSwitches(t *testing.T) {
	ts := startServer(t, newModel(t, plainScript), Config{})
	for _, tc := range []struct {
		name, body    string
		wantThinkMode bool
	}{
		{"default on", `{"messages":[{"role":"user","content":"hi"}]}`, true},
		{"kwargs off", `{"messages":[{"role":"user","content":"hi"}],"chat_template_kwargs":{"enable_thinking":false}}`, false},
		{"system no_think", `{"messages":[{"role":"system","content":"Be brief. /no_think"},{"role":"user","content":"hi"}]}`, false},
		{"system think beats kwargs", `{"messages":[{"role":"system","content":"/think"},{"role":"user","content":"hi"}],"chat_template_kwargs":{"enable_thinking":false}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req api.ChatCompletionRequest
			if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
				t.Fatal(err)
			}
			g, err := toGenRequest(&req)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ts.prepare(g)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.mode.Thinking(); got != tc.wantThinkMode {
				t.Fatalf("thinking mode %v, want %v; prompt ends %q", got, tc.wantThinkMode, p.text[max(0, len(p.text)-60):])
			}
			resp := ts.postJSON(t, "/v1/chat/completions", tc.body)
			c := decodeBody[api.ChatCompletion](t, resp)
			if c.Choices[0].Message.Content != "Fine." {
				t.Fatalf("content %q", c.Choices[0].Message.Content)
			}
		})
	}
}

// TestOpenAIClient drives the server with the official OpenAI Go client.
func TestOpenAIClient(t *testing.T) {
	ts := startServer(t, newModel(t, thinkScript), Config{APIKey: "sekret"})
	client := openai.NewClient(option.WithBaseURL(ts.url("/v1/")), option.WithAPIKey("sekret"), option.WithMaxRetries(0))
	ctx := context.Background()

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models.Data) != 1 || models.Data[0].ID != "scripted-smollm3" {
		t.Fatalf("models: %+v", models.Data)
	}

	params := openai.ChatCompletionNewParams{
		Model:         "scripted-smollm3",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	var reasoning strings.Builder
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 {
			if f, ok := chunk.Choices[0].Delta.JSON.ExtraFields["reasoning_content"]; ok {
				var s string
				if err := json.Unmarshal([]byte(f.Raw()), &s); err == nil {
					reasoning.WriteString(s)
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "Ok! Sure" {
		t.Fatalf("content %q", got)
	}
	if reasoning.String() != "Why?" {
		t.Fatalf("reasoning %q", reasoning.String())
	}
	if acc.Choices[0].FinishReason != "stop" || acc.Usage.CompletionTokens == 0 {
		t.Fatalf("finish %q usage %+v", acc.Choices[0].FinishReason, acc.Usage)
	}

	// Non-streamed, with the official client's error handling on a bad key.
	bad := openai.NewClient(option.WithBaseURL(ts.url("/v1/")), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Type != "authentication_error" {
		t.Fatalf("bad key: %v", err)
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "Ok! Sure" || resp.Usage.PromptTokens == 0 {
		t.Fatalf("non-streamed: %+v", resp)
	}
}
