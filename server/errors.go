package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/smolbot/smolbot/api"
	"github.com/smolbot/smolbot/sched"
	"github.com/smolbot/smolbot/store"
)

// badRequestError is a client error with the request field it is about.
type badRequestError struct {
	msg   string
	param string
	code  string
}

func (e *badRequestError) Error() string { return e.msg }

func badRequest(param, msg string) error { return &badRequestError{msg: msg, param: param} }

// httpError is an error with its HTTP status and OpenAI error type/code.
type httpError struct {
	status int
	typ    string // OpenAI error type
	code   string
	param  string
	msg    string
}

// errConflict: the session is already generating.
var errConflict = errors.New("this chat is still answering: wait for it or stop it first")

// errUnauthorized: a missing or wrong API key.
var errUnauthorized = errors.New("invalid or missing API key: send \"Authorization: Bearer KEY\" (or sign in on the web page)")

// errForbiddenOrigin: a cross-site form post to a mutating UI route.
var errForbiddenOrigin = errors.New("cross-site request refused")

// unknownRouteError: a request for a path (or method) the server does not
// serve.
type unknownRouteError struct{ method, path string }

func (e *unknownRouteError) Error() string {
	return "unknown request URL: " + e.method + " " + e.path
}

// methodNotAllowedError: a known API path asked with another method.
type methodNotAllowedError struct{ method, path string }

func (e *methodNotAllowedError) Error() string {
	return e.path + " does not take " + e.method
}

// classify maps any error to its HTTP status and OpenAI error fields. It is
// the only place that knows which error is whose fault.
func classify(err error) httpError {
	var (
		bad     *badRequestError
		long    *PromptTooLongError
		maxB    *http.MaxBytesError
		route   *unknownRouteError
		method  *methodNotAllowedError
		invalid = "invalid_request_error"
	)
	switch {
	case errors.As(err, &maxB):
		return httpError{http.StatusRequestEntityTooLarge, invalid, "request_too_large", "", "request body too large: the limit is " + byteSize(maxB.Limit)}
	case errors.As(err, &long):
		return httpError{http.StatusBadRequest, invalid, "context_length_exceeded", "messages", long.Error()}
	case errors.As(err, &bad):
		return httpError{http.StatusBadRequest, invalid, bad.code, bad.param, bad.msg}
	case errors.Is(err, errUnauthorized):
		return httpError{http.StatusUnauthorized, "authentication_error", "invalid_api_key", "", err.Error()}
	case errors.Is(err, errForbiddenOrigin):
		return httpError{http.StatusForbidden, "permission_error", "", "", err.Error()}
	case errors.As(err, &method):
		return httpError{http.StatusMethodNotAllowed, invalid, "method_not_allowed", "", method.Error()}
	case errors.As(err, &route):
		return httpError{http.StatusNotFound, invalid, "unknown_url", "", route.Error()}
	case errors.Is(err, store.ErrNotFound):
		return httpError{http.StatusNotFound, invalid, "not_found", "", "not found"}
	case errors.Is(err, errConflict):
		return httpError{http.StatusConflict, invalid, "busy", "", err.Error()}
	case errors.Is(err, sched.ErrQueueFull):
		return httpError{http.StatusTooManyRequests, "rate_limit_exceeded", "queue_full", "", "the server is busy (too many requests are waiting): try again later"}
	case errors.Is(err, errNotReady):
		return httpError{http.StatusServiceUnavailable, "server_error", "model_loading", "", err.Error()}
	case errors.Is(err, sched.ErrClosed), errors.Is(err, errShutdown):
		return httpError{http.StatusServiceUnavailable, "server_error", "shutting_down", "", "the server is shutting down"}
	}
	return httpError{http.StatusInternalServerError, "server_error", "", "", "internal error: " + err.Error()}
}

// clientGone reports whether err only means the client went away, which is
// not worth an error log line or a response.
func clientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, r.Context().Err()))
}

// apiError writes err as OpenAI's error JSON with the right status.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r, err) {
		return
	}
	e := classify(err)
	s.logIfServerError(r, e, err)
	body := api.ErrorResponse{Error: errorBody(e)}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="smolbot"`)
	}
	writeJSON(w, e.status, body)
}

func errorBody(e httpError) api.ErrorBody {
	b := api.ErrorBody{Message: e.msg, Type: e.typ}
	if e.param != "" {
		b.Param = &e.param
	}
	if e.code != "" {
		b.Code = &e.code
	}
	return b
}

// uiError writes err as a short plain-text message with the right status;
// the page's script shows it to the user.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, err error) {
	if clientGone(r, err) {
		return
	}
	e := classify(err)
	s.logIfServerError(r, e, err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	io.WriteString(w, e.msg)
}

func (s *Server) logIfServerError(r *http.Request, e httpError, err error) {
	if e.status >= 500 && e.status != http.StatusServiceUnavailable {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
