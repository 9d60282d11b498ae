package server

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/smolbot/smolbot/api"
)

// FuzzChatRequest feeds arbitrary bodies to the OpenAI request decoder and
// validator: they must never panic, and every rejection must be a client
// error (a 4xx through classify), never a 5xx.
func FuzzChatRequest(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"role":"user","content":"Hi"}]}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"messages":[{"role":"system","content":"/no_think"},{"role":"user","content":"x"}],"temperature":0.6,"top_p":0.95,"max_tokens":8,"stop":["\n"],"seed":1}`,
		`{"messages":[{"role":"user","content":"x"}],"chat_template_kwargs":{"enable_thinking":false},"max_completion_tokens":3,"n":1}`,
		`{"messages":[]}`, `{"messages":[{"role":"robot"}]}`, `{"stop":"x"}`, `[1,2]`, `{`, ``, `null`,
		`{"messages":[{"role":"user","content":"x"}],"temperature":-1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req api.ChatCompletionRequest
		err := decodeJSON(r, &req)
		if err == nil {
			_, err = toGenRequest(&req)
		}
		if err == nil {
			return
		}
		var maxB *http.MaxBytesError
		if errors.As(err, &maxB) {
			return
		}
		if st := classify(err).status; st < 400 || st >= 500 {
			t.Fatalf("body %q: error %v classified as status %d, want 4xx", body, err, st)
		}
	})
}
