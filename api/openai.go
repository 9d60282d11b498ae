// Package api holds the JSON wire types of smolbot's HTTP API: the
// OpenAI-compatible chat completions endpoint and smolbot's own small
// additions. It imports nothing from the engine so clients can use it alone.
//
// Decoding policy: request fields that OpenAI defines but smolbot does not
// implement (tools, logprobs, response_format, …) and fields nobody defines
// are accepted and ignored, as llama-server and ollama do, so existing OpenAI
// clients work unchanged. Fields smolbot does implement are validated
// strictly: a wrong type or an out-of-range value is a 400.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ChatCompletionRequest is the body of POST /v1/chat/completions.
type ChatCompletionRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	Stream   bool          `json:"stream"`
	// StreamOptions.IncludeUsage adds a last chunk with usage and no
	// choices, as OpenAI does.
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`

	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	// TopK and MinP are not OpenAI fields; llama-server accepts them too.
	TopK *int     `json:"top_k,omitempty"`
	MinP *float64 `json:"min_p,omitempty"`
	// MaxTokens is the legacy name of MaxCompletionTokens; when both are
	// given MaxCompletionTokens wins.
	MaxTokens           *int `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int `json:"max_completion_tokens,omitempty"`
	// Stop is a string or an array of up to 4 strings.
	Stop             StopList `json:"stop,omitempty"`
	Seed             *int64   `json:"seed,omitempty"`
	N                *int     `json:"n,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
	// ChatTemplateKwargs is passed to the chat template as llama-server
	// does; smolbot reads enable_thinking (a boolean) from it.
	ChatTemplateKwargs map[string]any `json:"chat_template_kwargs,omitempty"`
}

// StreamOptions are the options of a streamed request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ChatMessage is one message of a conversation. On input Content may be a
// string or an array of content parts; only "text" parts are supported.
type ChatMessage struct {
	Role    string         `json:"role"`
	Content MessageContent `json:"content"`
	// ReasoningContent is the thinking part of an assistant message, kept
	// apart from Content (the DeepSeek/llama-server convention).
	ReasoningContent string `json:"reasoning_content,omitempty"`
	Name             string `json:"name,omitempty"`
}

// MessageContent is a message's text. It decodes from a JSON string, null,
// or an array of {"type":"text","text":…} parts (joined with newlines), and
// always encodes as a string.
type MessageContent string

// UnmarshalJSON implements json.Unmarshaler.
func (c *MessageContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*c = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = MessageContent(s)
		return nil
	case len(b) > 0 && b[0] == '[':
		var parts []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		var buf bytes.Buffer
		for i, p := range parts {
			if p.Type != "text" || p.Text == nil {
				return fmt.Errorf("content part %d: type %q is not supported (only text)", i, p.Type)
			}
			if i > 0 {
				buf.WriteByte('\n')
			}
			buf.WriteString(*p.Text)
		}
		*c = MessageContent(buf.String())
		return nil
	}
	return errors.New("content must be a string or an array of text parts")
}

// StopList is the "stop" field: a single string or an array of strings.
type StopList []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *StopList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = StopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// ChatCompletion is the non-streamed response.
type ChatCompletion struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"` // "chat.completion"
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	// Timings is smolbot's addition (as llama-server has one): speed
	// figures of this request.
	Timings *Timings `json:"timings,omitempty"`
}

// Choice is one completion of a non-streamed response (smolbot has n=1).
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	FinishReason string          `json:"finish_reason"`
	Logprobs     any             `json:"logprobs"`
}

// ResponseMessage is the assistant message of a non-streamed response.
type ResponseMessage struct {
	Role             string  `json:"role"`
	Content          string  `json:"content"`
	ReasoningContent string  `json:"reasoning_content,omitempty"`
	Refusal          *string `json:"refusal"`
}

// ChatCompletionChunk is one server-sent event of a streamed response.
type ChatCompletionChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"` // "chat.completion.chunk"
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	Choices           []ChunkChoice `json:"choices"`
	// Usage is null on every chunk but the extra last one that
	// stream_options.include_usage asks for.
	Usage   *Usage   `json:"usage"`
	Timings *Timings `json:"timings,omitempty"`
}

// ChunkChoice is the delta of one streamed chunk.
type ChunkChoice struct {
	Index        int     `json:"index"`
	Delta        Delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
	Logprobs     any     `json:"logprobs"`
}

// Delta is the new text of a streamed chunk.
type Delta struct {
	Role             string  `json:"role,omitempty"`
	Content          *string `json:"content,omitempty"`
	ReasoningContent *string `json:"reasoning_content,omitempty"`
}

// Usage counts tokens.
type Usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

// PromptTokensDetails says how many prompt tokens came from the KV cache.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// Timings are smolbot's speed figures for one request, in milliseconds and
// tokens per second.
type Timings struct {
	QueuedMS           float64 `json:"queued_ms"`
	TimeToFirstTokenMS float64 `json:"ttft_ms"`
	TotalMS            float64 `json:"total_ms"`
	TokensPerSecond    float64 `json:"predicted_per_second"`
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// ContextLength is smolbot's addition: the context the server
	// allocates per sequence by default.
	ContextLength int `json:"context_length,omitempty"`
}

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"` // "list"
	Data   []Model `json:"data"`
}

// ErrorResponse is OpenAI's error body: {"error": {...}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody describes an error the OpenAI way.
type ErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// The finish reasons smolbot reports.
const (
	FinishStop   = "stop"   // end-of-generation token or a stop string
	FinishLength = "length" // max tokens or the context is full
)
