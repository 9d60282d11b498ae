package server

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// sseWriter writes a text/event-stream response and flushes every event.
// Each write gets a deadline, so a client that stops reading cannot hold a
// generation (or a goroutine) forever.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

// sseWriteTimeout bounds how long one event may take to reach the client.
const sseWriteTimeout = 30 * time.Second

func newSSE(w http.ResponseWriter) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

// start sends the headers (once).
func (e *sseWriter) start() error {
	if e.started {
		return nil
	}
	e.started = true
	h := e.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	e.w.WriteHeader(http.StatusOK)
	return e.flush()
}

func (e *sseWriter) flush() error {
	// Deadlines are best effort: a writer without them (httptest's
	// recorder) still streams.
	_ = e.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	return e.rc.Flush()
}

// event sends one event. name may be empty (the default "message" event);
// multi-line data is split over several data: lines, which the browser
// joins back with newlines.
func (e *sseWriter) event(name, data string) error {
	if err := e.start(); err != nil {
		return err
	}
	var b strings.Builder
	if name != "" {
		b.WriteString("event: ")
		b.WriteString(name)
		b.WriteByte('\n')
	}
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_ = e.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if _, err := io.WriteString(e.w, b.String()); err != nil {
		return err
	}
	return e.flush()
}

// comment sends an SSE comment line (ignored by clients; keeps idle
// connections open through proxies and tells a curl user what is going on).
func (e *sseWriter) comment(text string) error {
	if err := e.start(); err != nil {
		return err
	}
	if _, err := io.WriteString(e.w, ": "+strings.ReplaceAll(text, "\n", " ")+"\n\n"); err != nil {
		return err
	}
	return e.flush()
}
