package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/smolbot/smolbot/sched"
)

// metrics are the Prometheus series of one Server. They live in their own
// registry (unless Config.Registerer is given) so several servers in one
// process (tests) do not collide.
type metrics struct {
	reg interface {
		prometheus.Registerer
		prometheus.Gatherer
	}
	requests     *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	promptTokens prometheus.Counter
	cachedTokens prometheus.Counter
	genTokens    prometheus.Counter
	generations  *prometheus.CounterVec
	ttft         prometheus.Histogram
	tokPerSec    prometheus.Histogram
	queueWait    prometheus.Histogram
}

func newMetrics(reg interface {
	prometheus.Registerer
	prometheus.Gatherer
}, s *Server) *metrics {
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{reg: reg}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smolbot_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smolbot_requests_rejected_total", Help: "Generation requests refused before running, by reason.",
	}, []string{"reason"})
	m.promptTokens = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "smolbot_prompt_tokens_total", Help: "Prompt tokens of finished generations (tokens in), cached ones included.",
	})
	m.cachedTokens = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "smolbot_prompt_tokens_cached_total", Help: "Prompt tokens reused from a KV cache instead of being processed.",
	})
	m.genTokens = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "smolbot_generated_tokens_total", Help: "Generated tokens (tokens out).",
	})
	m.generations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "smolbot_generations_total", Help: "Finished generations by stop reason.",
	}, []string{"stop_reason"})
	m.ttft = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "smolbot_time_to_first_token_seconds", Help: "Time from the start of processing (after queueing) to the first generated token.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	})
	m.tokPerSec = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "smolbot_decode_tokens_per_second", Help: "Decode speed of each generation (tokens after the first over the time after it).",
		Buckets: []float64{1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 400},
	})
	m.queueWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "smolbot_queue_wait_seconds", Help: "Time generation requests waited for the model.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	for _, c := range []prometheus.Collector{m.requests, m.rejected, m.promptTokens, m.cachedTokens, m.genTokens, m.generations, m.ttft, m.tokPerSec, m.queueWait} {
		f(c)
	}
	stat := func(get func(sched.Stats) float64) func() float64 {
		return func() float64 {
			lm := s.model.Load()
			if lm == nil {
				return 0
			}
			return get(lm.sched.Stats())
		}
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smolbot_queue_depth", Help: "Generation requests waiting for the model.",
	}, stat(func(st sched.Stats) float64 { return float64(st.Waiting) })))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smolbot_generations_running", Help: "Generations running now.",
	}, stat(func(st sched.Stats) float64 { return float64(st.Running) })))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smolbot_active_sessions", Help: "Sequences (sessions and cached API conversations) whose KV cache is in memory.",
	}, stat(func(st sched.Stats) float64 { return float64(st.Sequences) })))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smolbot_kv_cache_bytes", Help: "Memory held by the KV caches in memory.",
	}, stat(func(st sched.Stats) float64 { return float64(st.Bytes) })))
	f(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "smolbot_kv_cache_evictions_total", Help: "KV caches evicted to stay within the budget.",
	}, stat(func(st sched.Stats) float64 { return float64(st.Evictions) })))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smolbot_ui_generations_active", Help: "Web UI answers being generated or waiting.",
	}, func() float64 { return float64(s.jobs.count()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smolbot_model_loaded", Help: "1 once the model is loaded and the server is ready.",
	}, func() float64 {
		if s.Ready() {
			return 1
		}
		return 0
	}))
	return m
}

// observe records a finished generation.
func (m *metrics) observe(r GenResult, queued time.Duration) {
	m.queueWait.Observe(queued.Seconds())
	m.promptTokens.Add(float64(r.PromptTokens))
	m.cachedTokens.Add(float64(r.CachedTokens))
	m.genTokens.Add(float64(r.GenTokens))
	if r.StopReason != "" {
		m.generations.WithLabelValues(r.StopReason).Inc()
	}
	if r.GenTokens > 0 && r.TimeToFirstToken > 0 {
		m.ttft.Observe(r.TimeToFirstToken.Seconds())
	}
	if d := r.Duration - r.TimeToFirstToken; r.GenTokens > 1 && d > 0 {
		m.tokPerSec.Observe(float64(r.GenTokens-1) / d.Seconds())
	}
}

func (m *metrics) handler() http.HandlerFunc {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}).ServeHTTP
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests by route pattern and status.
func (m *metrics) instrument(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	}
}
