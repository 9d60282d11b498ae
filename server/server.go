// Package server is smolbot's HTTP front end: a server-rendered web chat
// (HTMX + server-sent events), an OpenAI-compatible API, health and
// Prometheus metrics, all on one port.
//
// Handlers decode, validate, call the store or the generation core, and
// encode; nothing from net/http or JSON goes further in. Both front ends
// translate their input into one genRequest and run it through the same
// scheduler (package sched), which shares the model fairly between
// sessions, keeps their KV caches within a memory budget and queues the
// rest.
//
// The server can listen before the model is loaded: /healthz answers 503
// and generation routes refuse with a clear message until SetModel.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/smolbot/smolbot/sched"
	"github.com/smolbot/smolbot/store"
)

// DefaultContext is the per-sequence context in tokens when Config.Context
// is 0 (capped by the model's own maximum).
const DefaultContext = 8192

// Config configures a Server. Zero values pick the documented defaults.
type Config struct {
	// Store persists sessions and messages (required).
	Store store.Store
	// Logger receives request errors and lifecycle events; nil discards.
	Logger *slog.Logger
	// APIKey, when set, is required (Authorization: Bearer KEY, or the
	// sign-in cookie of the web UI) on the API and on every route that
	// changes something. Pages and event streams stay readable.
	APIKey string
	// CORSOrigin, when set, is sent as Access-Control-Allow-Origin on API
	// routes ("*" allows any origin). Empty disables CORS.
	CORSOrigin string
	// Parallel is how many generations run at once (default 1: on a CPU
	// one generation already uses every core).
	Parallel int
	// MaxQueue bounds the requests waiting for the model (default 64);
	// more are refused with 429.
	MaxQueue int
	// KVBudget bounds the bytes of idle KV caches kept for sessions
	// (default 2 GiB; negative keeps none).
	KVBudget int64
	// Context is the default context per sequence in tokens (default
	// DefaultContext, capped by the model). Sessions may choose their own.
	Context int
	// MaxBodyBytes bounds request bodies (default 1 MiB); larger ones get
	// 413.
	MaxBodyBytes int64
	// DetachGrace is how long a web UI generation keeps running with no
	// browser watching it (tab closed, navigated away) before it is
	// stopped; a reload within the grace period resumes the stream.
	// Default 30 s.
	DetachGrace time.Duration
	// SaveEvery is how often a streaming answer is written to the store
	// and then shown to the pages that watch it (default 100 ms). Pages
	// only see saved text, so a crash loses nothing that was shown.
	SaveEvery time.Duration
	// Thinking is the thinking default of new web sessions.
	Thinking bool
	// TokenDelay slows every generated token down (tests only: lets a
	// browser test watch tokens arrive).
	TokenDelay time.Duration
	// Registerer receives the Prometheus metrics; nil makes a private
	// registry (served on /metrics either way).
	Registerer interface {
		prometheus.Registerer
		prometheus.Gatherer
	}
}

// Server serves the web UI and the API. Create it with New; it is ready to
// serve at once and starts generating after SetModel.
type Server struct {
	cfg     Config
	store   store.Store
	log     *slog.Logger
	metrics *metrics
	mux     *http.ServeMux
	web     *webUI
	jobs    jobTable

	model atomic.Pointer[loadedModel]

	// ctx is cancelled by Shutdown; every generation derives from it.
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

type loadedModel struct {
	m     Model
	info  ModelInfo
	sched *sched.Scheduler[Sequence]
}

// errShutdown is the cancellation cause of generations stopped by Shutdown.
var errShutdown = errors.New("server shutting down")

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 64
	}
	if cfg.KVBudget == 0 {
		cfg.KVBudget = 2 << 30
	}
	if cfg.KVBudget < 0 {
		cfg.KVBudget = 0
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.DetachGrace <= 0 {
		cfg.DetachGrace = 30 * time.Second
	}
	if cfg.SaveEvery <= 0 {
		cfg.SaveEvery = 100 * time.Millisecond
	}
	web, err := newWebUI()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, web: web}
	s.jobs.m = map[string]*job{}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.metrics = newMetrics(cfg.Registerer, s)
	// Answers that were streaming when a previous process died are
	// partial: show them as stopped.
	if n, err := s.store.StopUnfinished(context.Background()); err != nil {
		return nil, err
	} else if n > 0 {
		s.log.Info("marked interrupted answers as stopped", "count", n)
	}
	s.routes()
	return s, nil
}

// SetModel makes m the served model; the server becomes ready.
func (s *Server) SetModel(m Model) {
	info := m.Info()
	lm := &loadedModel{m: m, info: info}
	lm.sched = sched.New(sched.Config[Sequence]{
		Parallel: s.cfg.Parallel,
		MaxQueue: s.cfg.MaxQueue,
		Budget:   s.cfg.KVBudget,
		New:      m.NewSequence,
		Size:     func(q Sequence) int64 { return q.Bytes() },
		Free:     func(q Sequence) { q.Free() },
	})
	s.model.Store(lm)
	s.log.Info("model ready", "model", info.ID, "context", info.ContextLength)
}

// Ready reports whether a model is loaded.
func (s *Server) Ready() bool { return s.model.Load() != nil }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Shutdown stops every generation (the partial answers are stored as
// stopped), refuses new ones, and waits for the web UI's generations to
// be saved or ctx to end. Call it before http.Server.Shutdown: event
// streams end once their generation does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel(errShutdown)
	if lm := s.model.Load(); lm != nil {
		lm.sched.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// routes registers every route. Each handler is wrapped (in handle) with
// the request metrics and, for mutating routes, the API key check.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	// OpenAI-compatible API.
	s.handle("POST /v1/chat/completions", s.api(s.handleChatCompletions))
	s.handle("GET /v1/models", s.api(s.handleModels))
	s.handle("OPTIONS /v1/", s.api(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	// Operations.
	s.handle("GET /healthz", s.handleHealth)
	s.handle("GET /metrics", s.metrics.handler())
	// Web UI.
	s.handle("GET /static/", s.web.static())
	s.handle("GET /{$}", s.handleNewChat)
	s.handle("GET /login", s.handleLoginPage)
	s.handle("POST /login", s.handleLogin)
	s.handle("POST /logout", s.handleLogout)
	s.handle("POST /chat", s.ui(s.handleFirstMessage))
	s.handle("GET /s/{sid}", s.handleSessionPage)
	s.handle("POST /s/{sid}/messages", s.ui(s.handleSend))
	s.handle("POST /s/{sid}/stop", s.ui(s.handleStop))
	s.handle("POST /s/{sid}/regenerate", s.ui(s.handleRegenerate))
	s.handle("GET /s/{sid}/m/{mid}", s.handleMessage)
	s.handle("GET /s/{sid}/m/{mid}/edit", s.handleEditForm)
	s.handle("POST /s/{sid}/m/{mid}/edit", s.ui(s.handleEdit))
	s.handle("GET /s/{sid}/m/{mid}/events", s.handleEvents)
	s.handle("POST /s/{sid}/title", s.ui(s.handleRename))
	s.handle("POST /s/{sid}/settings", s.ui(s.handleSettings))
	s.handle("DELETE /s/{sid}", s.ui(s.handleDelete))
	// Everything else: an OpenAI-shaped error under /v1/, a page elsewhere.
	s.handle("/v1/", s.api(s.handleAPINotFound))
	s.handle("/", s.handleNotFound)
}

// allowedMethods lists the methods for which a route other than the
// catch-alls takes r's path ("GET, HEAD, DELETE"), or "" if none does: the
// Allow header of a 405 answer.
func (s *Server) allowedMethods(r *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.WithContext(r.Context()) // a shallow copy
		probe.Method = m
		_, pattern := s.mux.Handler(probe)
		if pattern == "" || pattern == "/" || pattern == "/v1/" || strings.HasPrefix(pattern, "OPTIONS ") {
			continue
		}
		allow = append(allow, m)
		if m == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	return strings.Join(allow, ", ")
}

func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.metrics.instrument(pattern, h))
}
