package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/smolbot/smolbot/api"
	"github.com/smolbot/smolbot/chat"
)

// The OpenAI-compatible API: a translation from OpenAI's wire types into a
// genRequest and back, over the same generation core as the web UI.

// Limits on request fields, so that a client error is a clear 400 rather
// than a long, useless generation.
const (
	maxStopStrings = 4
	maxStopLen     = 200
)

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	list := api.ModelList{Object: "list", Data: []api.Model{}}
	if lm := s.model.Load(); lm != nil {
		list.Data = append(list.Data, api.Model{
			ID: lm.info.ID, Object: "model", Created: lm.info.Created.Unix(), OwnedBy: "smolbot",
			ContextLength: s.defaultCtx(lm),
		})
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !s.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// decodeJSON reads one JSON value from the body. Unknown fields are
// accepted and ignored (see package api); trailing data is an error.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		msg := "Content-Type must be application/json, not " + ct
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			msg += " (curl -d sends that: add -H 'Content-Type: application/json')"
		}
		return badRequest("", msg)
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var (
			maxB *http.MaxBytesError
			syn  *json.SyntaxError
			typ  *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &maxB):
			return err
		case errors.Is(err, io.EOF):
			return badRequest("", "the request body is empty: send a JSON object")
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
			return &badRequestError{msg: "malformed JSON in the request body: " + err.Error(), code: "invalid_json"}
		case errors.As(err, &typ):
			return &badRequestError{msg: "wrong type: " + err.Error(), code: "invalid_type", param: typ.Field}
		}
		// Errors of our own field decoders (content, stop).
		return &badRequestError{msg: "invalid request body: " + err.Error(), code: "invalid_value"}
	}
	if dec.More() {
		return badRequest("", "unexpected data after the JSON object")
	}
	return nil
}

// toGenRequest validates an OpenAI request and translates it.
func toGenRequest(req *api.ChatCompletionRequest) (genRequest, error) {
	var g genRequest
	if len(req.Messages) == 0 {
		return g, badRequest("messages", "messages must contain at least one message")
	}
	if req.N != nil && *req.N != 1 {
		return g, badRequest("n", "n must be 1: smolbot returns one choice")
	}
	for i, m := range req.Messages {
		role := m.Role
		switch role {
		case "system", "user", "assistant", "tool":
		case "developer":
			role = "system" // OpenAI's newer name for the system role
		case "":
			return g, badRequest(fmt.Sprintf("messages[%d].role", i), fmt.Sprintf("messages[%d] has no role", i))
		default:
			return g, badRequest(fmt.Sprintf("messages[%d].role", i), fmt.Sprintf("messages[%d]: unknown role %q (use system, user, assistant or tool)", i, m.Role))
		}
		g.Messages = append(g.Messages, chat.Message{Role: role, Content: string(m.Content), Thinking: m.ReasoningContent})
	}
	p := &g.Params
	if t := req.Temperature; t != nil {
		if *t < 0 || *t > 2 {
			return g, badRequest("temperature", "temperature must be between 0 and 2")
		}
		p.Temperature = t
	}
	if v := req.TopP; v != nil {
		if *v <= 0 || *v > 1 {
			return g, badRequest("top_p", "top_p must be in (0, 1]")
		}
		p.TopP = v
	}
	if v := req.TopK; v != nil {
		if *v < 0 {
			return g, badRequest("top_k", "top_k must be >= 0 (0 disables it)")
		}
		p.TopK = v
	}
	if v := req.MinP; v != nil {
		if *v < 0 || *v > 1 {
			return g, badRequest("min_p", "min_p must be between 0 and 1")
		}
		p.MinP = v
	}
	for name, v := range map[string]*float64{"presence_penalty": req.PresencePenalty, "frequency_penalty": req.FrequencyPenalty} {
		if v != nil && (*v < -2 || *v > 2) {
			return g, badRequest(name, name+" must be between -2 and 2")
		}
	}
	if req.PresencePenalty != nil {
		p.PresencePenalty = *req.PresencePenalty
	}
	if req.FrequencyPenalty != nil {
		p.FrequencyPenalty = *req.FrequencyPenalty
	}
	p.Seed = req.Seed
	maxTok, param := req.MaxTokens, "max_tokens"
	if req.MaxCompletionTokens != nil {
		maxTok, param = req.MaxCompletionTokens, "max_completion_tokens"
	}
	if maxTok != nil {
		if *maxTok < 1 {
			return g, badRequest(param, param+" must be at least 1")
		}
		p.MaxTokens = *maxTok
	}
	if len(req.Stop) > maxStopStrings {
		return g, badRequest("stop", fmt.Sprintf("stop may hold at most %d strings", maxStopStrings))
	}
	for _, st := range req.Stop {
		if st == "" || len(st) > maxStopLen {
			return g, badRequest("stop", fmt.Sprintf("stop strings must be 1 to %d bytes", maxStopLen))
		}
	}
	p.Stop = req.Stop
	if v, ok := req.ChatTemplateKwargs["enable_thinking"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return g, badRequest("chat_template_kwargs.enable_thinking", "chat_template_kwargs.enable_thinking must be a boolean")
		}
		g.Thinking = &b
	}
	return g, nil
}

func completionID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return "chatcmpl-smolbot"
	}
	return "chatcmpl-" + strings.ReplaceAll(id.String(), "-", "")
}

func usageOf(o genOutcome) *api.Usage {
	return &api.Usage{
		PromptTokens: o.PromptTokens, CompletionTokens: o.GenTokens, TotalTokens: o.PromptTokens + o.GenTokens,
		PromptTokensDetails: &api.PromptTokensDetails{CachedTokens: o.CachedTokens},
	}
}

func timingsOf(o genOutcome) *api.Timings {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	t := &api.Timings{QueuedMS: ms(o.Queued), TimeToFirstTokenMS: ms(o.TimeToFirstToken), TotalMS: ms(o.Duration)}
	if d := o.Duration - o.TimeToFirstToken; o.GenTokens > 1 && d > 0 {
		t.TokensPerSecond = float64(o.GenTokens-1) / d.Seconds()
	}
	return t
}

// handleChatCompletions is POST /v1/chat/completions.
func (s *Server) handleChatCompletions(w http.ResponseWriter, r *http.Request) {
	var req api.ChatCompletionRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiError(w, r, err)
		return
	}
	g, err := toGenRequest(&req)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	p, err := s.prepare(g)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	if req.Stream {
		s.streamCompletion(w, r, p, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	var thinking, content strings.Builder
	out, err := s.run(r.Context(), p, genHooks{Delta: func(th, c string) error {
		thinking.WriteString(th)
		content.WriteString(c)
		return nil
	}})
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.ChatCompletion{
		ID: completionID(), Object: "chat.completion", Created: time.Now().Unix(), Model: p.lm.info.ID,
		Choices: []api.Choice{{
			Message:      api.ResponseMessage{Role: "assistant", Content: content.String(), ReasoningContent: thinking.String()},
			FinishReason: out.Finish(),
		}},
		Usage:   usageOf(out),
		Timings: timingsOf(out),
	})
}

// streamCompletion answers with server-sent chat.completion.chunk events.
// Headers go out only once the request is queued or running, so a request
// refused at once (queue full) still gets a proper status code.
func (s *Server) streamCompletion(w http.ResponseWriter, r *http.Request, p *prepared, includeUsage bool) {
	sse := newSSE(w)
	id, created, model := completionID(), time.Now().Unix(), p.lm.info.ID
	chunk := func(d api.Delta, finish *string) error {
		b, err := json.Marshal(api.ChatCompletionChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []api.ChunkChoice{{Delta: d, FinishReason: finish}},
		})
		if err != nil {
			return err
		}
		return sse.event("", string(b))
	}
	started := false
	begin := func() error {
		if started {
			return nil
		}
		started = true
		empty := ""
		return chunk(api.Delta{Role: "assistant", Content: &empty}, nil)
	}
	out, err := s.run(r.Context(), p, genHooks{
		Queued: func(pos int) { _ = sse.comment(fmt.Sprintf("waiting for the model, position %d in the queue", pos)) },
		Started: func() {
			_ = begin()
		},
		Delta: func(th, c string) error {
			if th != "" {
				if err := chunk(api.Delta{ReasoningContent: &th}, nil); err != nil {
					return err
				}
			}
			if c != "" {
				return chunk(api.Delta{Content: &c}, nil)
			}
			return nil
		},
	})
	if err != nil {
		if clientGone(r, err) {
			return
		}
		if !sse.started {
			s.apiError(w, r, err)
			return
		}
		// Mid-stream: the status is already 200; send the error as an
		// event (as OpenAI and llama-server do) and end the stream.
		e := classify(err)
		s.logIfServerError(r, e, err)
		b, _ := json.Marshal(api.ErrorResponse{Error: errorBody(e)})
		_ = sse.event("", string(b))
		return
	}
	if err := begin(); err != nil {
		return
	}
	finish := out.Finish()
	if err := chunk(api.Delta{}, &finish); err != nil {
		return
	}
	if includeUsage {
		b, _ := json.Marshal(api.ChatCompletionChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []api.ChunkChoice{}, Usage: usageOf(out), Timings: timingsOf(out),
		})
		if err := sse.event("", string(b)); err != nil {
			return
		}
	}
	_ = sse.event("", "[DONE]")
}

// handleAPINotFound answers a request under /v1/ that no API route takes:
// 405 for a known path with another method, 404 otherwise.
func (s *Server) handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowedMethods(r); allow != "" {
		w.Header().Set("Allow", allow+", OPTIONS") // CORS preflight, on every API path
		s.apiError(w, r, &methodNotAllowedError{r.Method, r.URL.Path})
		return
	}
	s.apiError(w, r, &unknownRouteError{r.Method, r.URL.Path})
}
