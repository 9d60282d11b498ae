package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// Access control. With an API key configured, the API needs
// "Authorization: Bearer KEY" and the web UI's mutating routes need either
// that header or the sign-in cookie, which holds a hash of the key (not the
// key) and is HttpOnly and SameSite=Strict. Mutating UI routes also refuse
// cross-site requests (Sec-Fetch-Site / Origin), so a page on another site
// cannot post into a local chat even when no key is set.

const authCookie = "smolbot_auth"

func (s *Server) cookieToken() string {
	sum := sha256.Sum256([]byte("smolbot web sign-in\x00" + s.cfg.APIKey))
	return hex.EncodeToString(sum[:])
}

// authorized reports whether r carries the API key (or the UI cookie when
// allowCookie).
func (s *Server) authorized(r *http.Request, allowCookie bool) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.APIKey)) == 1
	}
	if allowCookie {
		if c, err := r.Cookie(authCookie); err == nil {
			return subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.cookieToken())) == 1
		}
	}
	return false
}

// signedIn reports whether the web user may change things.
func (s *Server) signedIn(r *http.Request) bool { return s.authorized(r, true) }

// api wraps an API handler: CORS, body limit, API key.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o := s.cfg.CORSOrigin; o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			w.Header().Set("Access-Control-Max-Age", "600")
			if o != "*" {
				w.Header().Add("Vary", "Origin")
			}
		}
		if r.Method == http.MethodOptions {
			// Preflight carries no credentials by design.
			h(w, r)
			return
		}
		if !s.authorized(r, false) {
			s.apiError(w, r, errUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		h(w, r)
	}
}

// ui wraps a mutating web UI handler: same-origin check, body limit, key.
func (s *Server) ui(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			s.uiError(w, r, errForbiddenOrigin)
			return
		}
		if !s.signedIn(r) {
			s.uiError(w, r, errUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		h(w, r)
	}
}

// crossSite reports whether a browser sent r from another site. Requests
// without the headers (curl, tests) are not browsers' cross-site posts.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return true
	case "same-origin", "none":
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		host, ok := strings.CutPrefix(o, "http://")
		if !ok {
			host, _ = strings.CutPrefix(o, "https://")
		}
		return host != r.Host
	}
	return false
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", s.basePage(r))
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		s.uiError(w, r, errForbiddenOrigin)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	key := r.PostFormValue("key")
	if s.cfg.APIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
		p := s.basePage(r)
		p.Error = "That key is not right."
		s.render(w, r, http.StatusUnauthorized, "login", p)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: authCookie, Value: s.cookieToken(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 400 * 24 * 3600,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: authCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
