package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smolbot/smolbot/store"
)

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// webUI holds the parsed templates and the static files.
type webUI struct {
	tpl   *template.Template
	files fs.FS
	// version is a hash of the static files, appended to their URLs so
	// browsers cache them forever and still see a new release.
	version string
}

func newWebUI() (*webUI, error) {
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	_ = fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(static, path)
			h.Write(b)
		}
		return nil
	})
	h.Write(chromaCSS)
	version := hex.EncodeToString(h.Sum(nil))[:12]
	tpl, err := template.New("").Funcs(template.FuncMap{
		"static":   func(name string) string { return "/static/" + name + "?v=" + version },
		"stats":    statsLine,
		"since":    relTime,
		"optFloat": optFloat,
		"optInt":   optInt,
		"optInt64": optInt64,
	}).ParseFS(webFS, "web/templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("server: parsing templates: %w", err)
	}
	return &webUI{tpl: tpl, files: static, version: version}, nil
}

// static serves /static/: the embedded files and the generated chroma.css.
func (u *webUI) static() http.HandlerFunc {
	files := http.StripPrefix("/static/", http.FileServerFS(u.files))
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		if r.URL.Path == "/static/chroma.css" {
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			w.Write(chromaCSS)
			return
		}
		files.ServeHTTP(w, r)
	}
}

// contentSecurityPolicy allows only our own scripts and styles: even if a
// message ever slipped past the sanitizer, no injected script would run.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// render executes a template into a buffer first, so a template error
// becomes a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.web.tpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.uiError(w, r, fmt.Errorf("rendering %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderString executes a template into a string (for SSE events).
func (s *Server) renderString(name string, data any) (string, error) {
	var buf bytes.Buffer
	err := s.web.tpl.ExecuteTemplate(&buf, name, data)
	return buf.String(), err
}

// page is the data of a full page.
type page struct {
	Title     string
	ModelID   string
	Ready     bool
	NeedsAuth bool // a key is set and this browser is not signed in
	HasKey    bool
	Error     string
	Sessions  []store.Session
	Current   *store.Session
	Messages  []msgView
	Thinking  bool // the composer's thinking toggle
	Busy      bool // the session is generating
	Settings  settingsView
	MaxCtx    int
}

func (s *Server) basePage(r *http.Request) page {
	p := page{Title: "smolbot", HasKey: s.cfg.APIKey != "", NeedsAuth: !s.signedIn(r), Thinking: s.cfg.Thinking}
	if lm := s.model.Load(); lm != nil {
		p.Ready, p.ModelID, p.MaxCtx = true, lm.info.ID, lm.info.ContextLength
	}
	return p
}

// msgView is a message as a template shows it.
type msgView struct {
	store.Message
	HTML         template.HTML // the answer rendered from markdown
	ThinkingHTML template.HTML
	Live         bool   // generating now: the page follows its event stream
	Status       string // queue position etc. while Live
}

func (s *Server) view(m store.Message) msgView {
	v := msgView{Message: m}
	if m.Role == store.RoleAssistant {
		v.HTML = renderMarkdown(m.Content)
		v.ThinkingHTML = renderMarkdown(m.Thinking)
		if !m.State.Finished() {
			if j := s.jobs.get(m.ID); j != nil {
				snap := j.snapshot()
				v = s.liveView(snap)
			}
		}
	}
	return v
}

// liveView renders a job's snapshot.
func (s *Server) liveView(snap snapshot) msgView {
	return msgView{
		Message:      snap.msg,
		HTML:         renderMarkdown(snap.msg.Content),
		ThinkingHTML: renderMarkdown(snap.msg.Thinking),
		Live:         !snap.msg.State.Finished(),
		Status:       snap.status,
	}
}

// settingsView is the settings form's data.
type settingsView struct {
	SessionID string
	store.Settings
	Saved  bool
	MaxCtx int
}

// statsLine is the line under an answer: tokens, speed, time to first
// token, stop reason.
func statsLine(m store.Message) string {
	st := m.Stats
	var parts []string
	if st.GenTokens > 0 {
		parts = append(parts, plural(st.GenTokens, "token"))
	}
	if tps := st.TokensPerSecond(); tps > 0 {
		parts = append(parts, strconv.FormatFloat(tps, 'f', 1, 64)+" tok/s")
	}
	if st.TTFT > 0 && st.GenTokens > 0 {
		parts = append(parts, "first token "+shortDuration(st.TTFT))
	}
	if st.PromptTokens > 0 {
		p := "prompt " + plural(st.PromptTokens, "token")
		if st.CachedTokens > 0 {
			p += " (" + strconv.Itoa(st.CachedTokens) + " cached)"
		}
		parts = append(parts, p)
	}
	if st.Queued >= 100*time.Millisecond {
		parts = append(parts, "queued "+shortDuration(st.Queued))
	}
	switch m.State {
	case store.StateStopped:
		parts = append(parts, "stopped")
	case store.StateError:
		parts = append(parts, "failed")
	default:
		if st.StopReason != "" {
			parts = append(parts, stopReasonText(st.StopReason))
		}
	}
	return strings.Join(parts, " · ")
}

func stopReasonText(r string) string {
	switch r {
	case StopEOS:
		return "finished"
	case StopString:
		return "stop string"
	case StopLength:
		return "max tokens reached"
	case StopContext:
		return "context full"
	case StopCancelled:
		return "stopped"
	}
	return r
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return d.Round(time.Second).String()
}

// relTime is a short "when" for the sidebar.
func relTime(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	}
	return t.Format("2 Jan 2006")
}

func optFloat(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func optInt(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func optInt64(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}
