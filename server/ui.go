package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/store"
)

// The web UI's routes. Pages are full HTML documents; the routes HTMX calls
// answer with the fragments they replace. Every mutating route also works
// as a plain form post (it then redirects back to the chat).

// maxMessageBytes bounds one typed message (the request body limit bounds it
// too; this gives the clearer error).
const maxMessageBytes = 256 << 10

// sidebarLimit is how many sessions the sidebar lists.
const sidebarLimit = 200

func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// redirect sends the browser to url: HX-Redirect for HTMX, 303 otherwise.
func redirect(w http.ResponseWriter, r *http.Request, url string) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", url)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
}

func (s *Server) sessionPage(r *http.Request, sess *store.Session) (page, error) {
	p := s.basePage(r)
	list, err := s.store.Sessions(r.Context(), sidebarLimit)
	if err != nil {
		return p, err
	}
	p.Sessions = list
	if sess == nil {
		return p, nil
	}
	p.Current = sess
	p.Title = sess.Title + " · smolbot"
	p.Thinking = sess.Settings.Thinking
	p.Settings = settingsView{SessionID: sess.ID, Settings: sess.Settings, MaxCtx: p.MaxCtx}
	msgs, err := s.store.Messages(r.Context(), sess.ID)
	if err != nil {
		return p, err
	}
	for _, m := range msgs {
		v := s.view(m)
		p.Busy = p.Busy || v.Live
		p.Messages = append(p.Messages, v)
	}
	return p, nil
}

// handleNewChat is GET /: an empty chat; the session is created with the
// first message (POST /chat), so idle visits leave no empty chats behind.
func (s *Server) handleNewChat(w http.ResponseWriter, r *http.Request) {
	p, err := s.sessionPage(r, nil)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "page", p)
}

// handleSessionPage is GET /s/{sid}.
func (s *Server) handleSessionPage(w http.ResponseWriter, r *http.Request) {
	sess, err := s.store.Session(r.Context(), r.PathValue("sid"))
	if errors.Is(err, store.ErrNotFound) {
		s.notFoundPage(w, r, "This conversation does not exist: it may have been deleted.")
		return
	}
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	p, err := s.sessionPage(r, sess)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "page", p)
}

// handleNotFound answers a page request for a path the server does not
// have (a mistyped or stale link) with a page leading back to the chats.
func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowedMethods(r); allow != "" {
		// A route with another method: a form posted to a page, a pasted
		// action URL.
		w.Header().Set("Allow", allow)
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			s.errorPage(w, r, http.StatusMethodNotAllowed, "Method not allowed",
				r.URL.Path+" is not a page: it takes "+allow+" requests.")
			return
		}
		s.uiError(w, r, &methodNotAllowedError{r.Method, r.URL.Path})
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.uiError(w, r, &unknownRouteError{r.Method, r.URL.Path})
		return
	}
	s.notFoundPage(w, r, "There is no page at "+r.URL.Path+".")
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request, msg string) {
	s.errorPage(w, r, http.StatusNotFound, "Not found", msg)
}

// errorPage renders the page that explains a wrong address, leading back to
// the chats.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	p := s.basePage(r)
	p.Title, p.Error = title+" · smolbot", msg
	s.render(w, r, status, "notfound", p)
}

// messageForm reads a typed message and its thinking toggle.
func messageForm(r *http.Request) (content string, thinking bool, err error) {
	content = strings.TrimSpace(r.PostFormValue("content"))
	if err := r.Context().Err(); err != nil {
		return "", false, err
	}
	switch {
	case content == "":
		return "", false, badRequest("content", "the message is empty")
	case len(content) > maxMessageBytes:
		return "", false, badRequest("content", fmt.Sprintf("the message is too long (%d KiB at most)", maxMessageBytes>>10))
	case !utf8.ValidString(content):
		return "", false, badRequest("content", "the message is not valid UTF-8")
	}
	return content, r.PostFormValue("thinking") == "on", nil
}

// formError returns the body-parsing error of a form post, if any (a body
// over the limit, for instance), so it is reported as such and not as an
// empty message.
func formError(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	return nil
}

// titleFrom makes a session title from the first message: its first line,
// whitespace collapsed, cut at a word boundary near 60 characters.
func titleFrom(content string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(content), "\n")
	line = strings.Join(strings.Fields(line), " ")
	const max = 60
	if utf8.RuneCountInString(line) <= max {
		return line
	}
	runes := []rune(line)[:max]
	cut := len(runes)
	for i := len(runes) - 1; i > max/2; i-- {
		if unicode.IsSpace(runes[i]) {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(runes[:cut]), unicode.IsPunct) + "…"
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only if the system's random source does.
		panic(err)
	}
	return id.String()
}

// genRequestFor builds the generation request of a session from its stored
// history (the new user message last).
func genRequestFor(sess *store.Session, history []store.Message, thinking bool) genRequest {
	g := genRequest{Key: sess.ID, Thinking: &thinking, Ctx: sess.Settings.Context}
	if sys := strings.TrimSpace(sess.Settings.System); sys != "" {
		g.Messages = append(g.Messages, chat.Message{Role: "system", Content: sys})
	}
	for _, m := range history {
		switch m.Role {
		case store.RoleUser:
			g.Messages = append(g.Messages, chat.Message{Role: "user", Content: m.Content})
		case store.RoleAssistant:
			if m.Content == "" && m.Thinking == "" {
				continue // failed or stopped before a word: nothing to show the model
			}
			g.Messages = append(g.Messages, chat.Message{Role: "assistant", Content: m.Content, Thinking: m.Thinking})
		}
	}
	st := sess.Settings
	g.Params = GenParams{Temperature: st.Temperature, TopP: st.TopP, TopK: st.TopK, MinP: st.MinP, Seed: st.Seed, MaxTokens: st.MaxTokens}
	return g
}

// ask stores a user message (unless user is nil: regenerate) and an empty
// assistant message for session sess whose earlier messages are history,
// and starts generating. Validation (prompt fits, model ready, session not
// busy) happens before anything is stored.
func (s *Server) ask(ctx context.Context, sess *store.Session, history []store.Message, user *store.Message, thinking bool) (*store.Message, error) {
	j, err := s.jobs.reserve(sess.ID)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			s.abandon(j)
		}
	}()
	all := history
	if user != nil {
		all = append(append([]store.Message(nil), history...), *user)
	}
	p, err := s.prepare(genRequestFor(sess, all, thinking))
	if err != nil {
		return nil, err
	}
	// Take the place in the queue before storing anything, so a busy
	// server refuses cleanly (429) instead of storing a failed answer.
	ticket, err := s.enqueue(p)
	if err != nil {
		return nil, err
	}
	defer func() {
		if !started {
			ticket.Cancel()
		}
	}()
	if user != nil {
		if err := s.store.AddMessage(ctx, user); err != nil {
			return nil, err
		}
	}
	asst := &store.Message{SessionID: sess.ID, Role: store.RoleAssistant, State: store.StateQueued, ThinkingEnabled: thinking}
	if err := s.store.AddMessage(ctx, asst); err != nil {
		return nil, err
	}
	s.startJob(j, p, ticket, asst)
	started = true
	return asst, nil
}

// handleFirstMessage is POST /chat: create a session with its first message.
func (s *Server) handleFirstMessage(w http.ResponseWriter, r *http.Request) {
	if err := formError(r); err != nil {
		s.uiError(w, r, err)
		return
	}
	content, thinking, err := messageForm(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if !s.Ready() {
		s.uiError(w, r, errNotReady)
		return
	}
	sess := &store.Session{ID: newID(), Title: titleFrom(content), Settings: store.Settings{Thinking: thinking}}
	// Validate before creating anything: a too-long first message must not
	// leave an empty chat behind.
	user := store.Message{SessionID: sess.ID, Role: store.RoleUser, Content: content, State: store.StateDone, ThinkingEnabled: thinking}
	if _, err := s.prepare(genRequestFor(sess, []store.Message{user}, thinking)); err != nil {
		s.uiError(w, r, err)
		return
	}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		s.uiError(w, r, err)
		return
	}
	if _, err := s.ask(r.Context(), sess, nil, &user, thinking); err != nil {
		s.uiError(w, r, err)
		return
	}
	redirect(w, r, "/s/"+sess.ID)
}

// handleSend is POST /s/{sid}/messages: answers with the new user and
// assistant messages, the latter following its event stream.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	if err := formError(r); err != nil {
		s.uiError(w, r, err)
		return
	}
	content, thinking, err := messageForm(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	sess, history, err := s.sessionAndHistory(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	user := &store.Message{SessionID: sess.ID, Role: store.RoleUser, Content: content, State: store.StateDone, ThinkingEnabled: thinking}
	asst, err := s.ask(r.Context(), sess, history, user, thinking)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if !isHTMX(r) {
		redirect(w, r, "/s/"+sess.ID)
		return
	}
	s.render(w, r, http.StatusOK, "messages", []msgView{s.view(*user), s.view(*asst)})
}

func (s *Server) sessionAndHistory(r *http.Request) (*store.Session, []store.Message, error) {
	sess, err := s.store.Session(r.Context(), r.PathValue("sid"))
	if err != nil {
		return nil, nil, err
	}
	history, err := s.store.Messages(r.Context(), sess.ID)
	return sess, history, err
}

// handleStop is POST /s/{sid}/stop: stop the session's generation. The
// partial answer is saved; the event stream delivers the final message.
func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	if j := s.jobs.forSession(r.PathValue("sid")); j != nil && j.cancel != nil {
		j.cancel(errStopped)
		// Wait briefly so a following page load already sees it stopped.
		select {
		case <-j.done:
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}
	if !isHTMX(r) {
		redirect(w, r, "/s/"+r.PathValue("sid"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// renderMessages answers with the whole message list (after a change that
// rewrote history).
func (s *Server) renderMessages(w http.ResponseWriter, r *http.Request, sid string) {
	if !isHTMX(r) {
		redirect(w, r, "/s/"+sid)
		return
	}
	msgs, err := s.store.Messages(r.Context(), sid)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	views := make([]msgView, len(msgs))
	for i, m := range msgs {
		views[i] = s.view(m)
	}
	s.render(w, r, http.StatusOK, "messages", views)
}

// handleRegenerate is POST /s/{sid}/regenerate: replace the last answer.
func (s *Server) handleRegenerate(w http.ResponseWriter, r *http.Request) {
	sess, history, err := s.sessionAndHistory(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if len(history) < 2 || history[len(history)-1].Role != store.RoleAssistant {
		s.uiError(w, r, badRequest("", "there is no answer to regenerate"))
		return
	}
	if s.jobs.forSession(sess.ID) != nil {
		s.uiError(w, r, errConflict)
		return
	}
	last := history[len(history)-1]
	thinking := history[len(history)-2].ThinkingEnabled
	if err := s.store.DeleteMessagesFrom(r.Context(), sess.ID, last.Seq); err != nil {
		s.uiError(w, r, err)
		return
	}
	if _, err := s.ask(r.Context(), sess, history[:len(history)-1], nil, thinking); err != nil {
		s.uiError(w, r, err)
		return
	}
	s.renderMessages(w, r, sess.ID)
}

// messageOf loads message {mid} and checks it belongs to session {sid}.
func (s *Server) messageOf(r *http.Request) (*store.Message, error) {
	m, err := s.store.Message(r.Context(), r.PathValue("mid"))
	if err != nil {
		return nil, err
	}
	if m.SessionID != r.PathValue("sid") {
		return nil, store.ErrNotFound
	}
	return m, nil
}

// handleMessage is GET /s/{sid}/m/{mid}: one message (cancelling an edit).
func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	m, err := s.messageOf(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "message", s.view(*m))
}

// handleEditForm is GET /s/{sid}/m/{mid}/edit: the edit form of a message.
func (s *Server) handleEditForm(w http.ResponseWriter, r *http.Request) {
	m, err := s.messageOf(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "edit", m)
}

// handleEdit is POST /s/{sid}/m/{mid}/edit: replace the last user message
// (and the answer after it) and ask again.
func (s *Server) handleEdit(w http.ResponseWriter, r *http.Request) {
	if err := formError(r); err != nil {
		s.uiError(w, r, err)
		return
	}
	content, thinking, err := messageForm(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	sess, history, err := s.sessionAndHistory(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	mid := r.PathValue("mid")
	idx := -1
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == store.RoleUser {
			idx = i
			break
		}
	}
	if idx < 0 || history[idx].ID != mid {
		s.uiError(w, r, badRequest("", "only the last message you sent can be edited"))
		return
	}
	if s.jobs.forSession(sess.ID) != nil {
		s.uiError(w, r, errConflict)
		return
	}
	if err := s.store.DeleteMessagesFrom(r.Context(), sess.ID, history[idx].Seq); err != nil {
		s.uiError(w, r, err)
		return
	}
	user := &store.Message{SessionID: sess.ID, Role: store.RoleUser, Content: content, State: store.StateDone, ThinkingEnabled: thinking}
	if _, err := s.ask(r.Context(), sess, history[:idx], user, thinking); err != nil {
		s.uiError(w, r, err)
		return
	}
	s.renderMessages(w, r, sess.ID)
}

// handleRename is POST /s/{sid}/title; answers with the updated sidebar.
func (s *Server) handleRename(w http.ResponseWriter, r *http.Request) {
	if err := formError(r); err != nil {
		s.uiError(w, r, err)
		return
	}
	title := strings.Join(strings.Fields(r.PostFormValue("title")), " ")
	if title == "" {
		s.uiError(w, r, badRequest("title", "the title is empty"))
		return
	}
	if utf8.RuneCountInString(title) > 200 {
		title = string([]rune(title)[:200])
	}
	sess, err := s.store.Session(r.Context(), r.PathValue("sid"))
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	sess.Title = title
	if err := s.store.UpdateSession(r.Context(), sess); err != nil {
		s.uiError(w, r, err)
		return
	}
	if !isHTMX(r) {
		redirect(w, r, "/s/"+sess.ID)
		return
	}
	p, err := s.sessionPage(r, nil)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	p.Current = sess
	s.render(w, r, http.StatusOK, "sessions", p)
}

// parseSettings reads the settings form. Empty fields mean "default".
func parseSettings(r *http.Request, maxCtx int) (store.Settings, error) {
	var st store.Settings
	st.System = strings.TrimSpace(r.PostFormValue("system"))
	if len(st.System) > 20000 {
		return st, badRequest("system", "the system prompt is too long (20000 bytes at most)")
	}
	st.Thinking = r.PostFormValue("thinking") == "on"
	float := func(name string, lo, hi float64) (*float64, error) {
		v := strings.TrimSpace(r.PostFormValue(name))
		if v == "" {
			return nil, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < lo || f > hi {
			return nil, badRequest(name, fmt.Sprintf("%s must be a number from %g to %g", name, lo, hi))
		}
		return &f, nil
	}
	integer := func(name string, lo, hi int64) (*int64, error) {
		v := strings.TrimSpace(r.PostFormValue(name))
		if v == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return nil, badRequest(name, fmt.Sprintf("%s must be a whole number from %d to %d", name, lo, hi))
		}
		return &n, nil
	}
	var err error
	if st.Temperature, err = float("temperature", 0, 2); err != nil {
		return st, err
	}
	if st.TopP, err = float("top_p", 0.001, 1); err != nil {
		return st, err
	}
	if st.MinP, err = float("min_p", 0, 1); err != nil {
		return st, err
	}
	k, err := integer("top_k", 0, 1<<20)
	if err != nil {
		return st, err
	}
	if k != nil {
		kk := int(*k)
		st.TopK = &kk
	}
	mt, err := integer("max_tokens", 0, 1<<24)
	if err != nil {
		return st, err
	}
	if mt != nil {
		st.MaxTokens = int(*mt)
	}
	if st.Seed, err = integer("seed", -1<<62, 1<<62); err != nil {
		return st, err
	}
	if maxCtx <= 0 {
		maxCtx = 1 << 20
	}
	c, err := integer("context", 128, int64(maxCtx))
	if err != nil {
		return st, err
	}
	if c != nil {
		st.Context = int(*c)
	}
	return st, nil
}

// handleSettings is POST /s/{sid}/settings; answers with the form.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	if err := formError(r); err != nil {
		s.uiError(w, r, err)
		return
	}
	sess, err := s.store.Session(r.Context(), r.PathValue("sid"))
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	maxCtx := 0
	if lm := s.model.Load(); lm != nil {
		maxCtx = lm.info.ContextLength
	}
	st, err := parseSettings(r, maxCtx)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	sess.Settings = st
	if err := s.store.UpdateSession(r.Context(), sess); err != nil {
		s.uiError(w, r, err)
		return
	}
	if !isHTMX(r) {
		redirect(w, r, "/s/"+sess.ID)
		return
	}
	s.render(w, r, http.StatusOK, "settings", settingsView{SessionID: sess.ID, Settings: st, Saved: true, MaxCtx: maxCtx})
}

// handleDelete is DELETE /s/{sid}: stop its generation, free its KV cache,
// delete it, and go to a new chat.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	sid := r.PathValue("sid")
	if j := s.jobs.forSession(sid); j != nil && j.cancel != nil {
		j.cancel(errStopped)
		select {
		case <-j.done:
		case <-time.After(5 * time.Second):
		}
	}
	if err := s.store.DeleteSession(r.Context(), sid); err != nil {
		s.uiError(w, r, err)
		return
	}
	if lm := s.model.Load(); lm != nil {
		lm.sched.Forget(sid)
	}
	redirect(w, r, "/")
}

// handleEvents is GET /s/{sid}/m/{mid}/events: the event stream of an
// answer being generated. Events: "status" (queue position and the like),
// "thinking" and "answer" (the whole text so far, rendered), and "done"
// (the finished message, which replaces the streaming one). Updates are
// coalesced: a slow client gets fewer, larger updates, never a backlog.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	m, err := s.messageOf(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	sse := newSSE(w)
	j := s.jobs.get(m.ID)
	if j == nil {
		// Finished (or interrupted by a restart): deliver the final state.
		s.sendDone(sse, *m)
		return
	}
	unwatch := j.watch(s.cfg.DetachGrace)
	defer unwatch()
	var sentThinking, sentContent, sentStatus string
	first := true
	const minInterval = 60 * time.Millisecond
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		snap := j.snapshot()
		if snap.msg.State.Finished() {
			s.sendDone(sse, snap.msg)
			return
		}
		if first || snap.status != sentStatus {
			if sse.event("status", snap.status) != nil {
				return
			}
			sentStatus = snap.status
		}
		if snap.msg.Thinking != sentThinking {
			if sse.event("thinking", string(renderMarkdown(snap.msg.Thinking))) != nil {
				return
			}
			sentThinking = snap.msg.Thinking
		}
		if snap.msg.Content != sentContent {
			if sse.event("answer", string(renderMarkdown(snap.msg.Content))) != nil {
				return
			}
			sentContent = snap.msg.Content
		}
		first = false
		select {
		case <-snap.changed:
		case <-keepAlive.C:
			if sse.comment("waiting") != nil {
				return
			}
			continue
		case <-r.Context().Done():
			return
		}
		// Coalesce bursts of tokens into one update.
		select {
		case <-time.After(minInterval):
		case <-j.done:
		case <-r.Context().Done():
			return
		}
	}
}

// sendDone sends the final "done" event: the finished message's HTML.
func (s *Server) sendDone(sse *sseWriter, m store.Message) {
	html, err := s.renderString("message", msgView{
		Message: m, HTML: renderMarkdown(m.Content), ThinkingHTML: renderMarkdown(m.Thinking),
	})
	if err != nil {
		s.log.Error("rendering a finished message", "err", err)
		return
	}
	_ = sse.event("done", html)
}
