package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smolbot/smolbot/sched"
	"github.com/smolbot/smolbot/store"
)

// Web UI generations run as jobs, apart from any HTTP request: the POST that
// asks for an answer returns at once, and the page then follows the job over
// an event stream (GET …/events). Several streams may watch one job (two
// tabs, a reload), and a job keeps running while a page reloads. When no one
// has watched it for Config.DetachGrace it is stopped, so an abandoned tab
// does not hold the model.
//
// A job writes its message to the store as it goes (every SaveEvery and at
// the end) and shows watchers only what it has written, so a crash loses
// nothing a page has shown.

// Cancellation causes of web jobs.
var (
	errStopped  = errors.New("stopped by the user")
	errDetached = errors.New("stopped: nobody was watching")
)

// job is one assistant message being generated for the web UI.
type job struct {
	sid, mid string
	ctx      context.Context
	cancel   context.CancelCauseFunc
	done     chan struct{}

	mu      sync.Mutex
	msg     store.Message // the live message, saved periodically
	status  string        // "waiting…" line shown above the answer
	changed chan struct{} // closed and replaced at every change
	subs    int
	idle    *time.Timer
}

// jobTable holds the running jobs; a session has at most one.
type jobTable struct {
	mu sync.Mutex
	m  map[string]*job // by message id
}

func (t *jobTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (t *jobTable) get(mid string) *job {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[mid]
}

func (t *jobTable) forSession(sid string) *job {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range t.m {
		if j.sid == sid {
			return j
		}
	}
	return nil
}

// reserve claims the session for a new job (keyed by a placeholder until
// the message exists), or returns errConflict.
func (t *jobTable) reserve(sid string) (*job, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range t.m {
		if j.sid == sid {
			return nil, errConflict
		}
	}
	j := &job{sid: sid, mid: "reserved:" + sid, done: make(chan struct{}), changed: make(chan struct{})}
	t.m[j.mid] = j
	return j, nil
}

// bind re-keys a reserved job by its message id.
func (t *jobTable) bind(j *job, mid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, j.mid)
	j.mid = mid
	t.m[mid] = j
}

func (t *jobTable) remove(j *job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m[j.mid] == j {
		delete(t.m, j.mid)
	}
}

// snapshot is a consistent copy of a job's state for one event.
type snapshot struct {
	msg     store.Message
	status  string
	changed <-chan struct{}
}

func (j *job) snapshot() snapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	return snapshot{msg: j.msg, status: j.status, changed: j.changed}
}

// update changes the job's state under its lock and wakes the watchers.
func (j *job) update(f func(m *store.Message)) {
	j.mu.Lock()
	f(&j.msg)
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

func (j *job) setStatus(status string) {
	j.update(func(*store.Message) { j.status = status })
}

// watch registers a watcher; the returned function unregisters it.
func (j *job) watch(grace time.Duration) (unwatch func()) {
	j.mu.Lock()
	j.subs++
	if j.idle != nil {
		j.idle.Stop()
		j.idle = nil
	}
	j.mu.Unlock()
	return func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.subs--
		if j.subs == 0 {
			j.armIdleLocked(grace)
		}
	}
}

// armIdleLocked stops the job after grace unless someone watches again.
func (j *job) armIdleLocked(grace time.Duration) {
	if j.idle != nil {
		j.idle.Stop()
	}
	j.idle = time.AfterFunc(grace, func() {
		j.mu.Lock()
		n := j.subs
		j.mu.Unlock()
		if n == 0 {
			j.cancel(errDetached)
		}
	})
}

// startJob runs p, whose queue place is t, for the assistant message m
// (already stored, state queued) as job j (reserved by the caller).
func (s *Server) startJob(j *job, p *prepared, t *sched.Ticket[Sequence], m *store.Message) {
	s.jobs.bind(j, m.ID)
	j.msg = *m
	j.ctx, j.cancel = context.WithCancelCause(s.ctx)
	j.mu.Lock()
	j.status = "Waiting for the model…"
	j.armIdleLocked(s.cfg.DetachGrace)
	j.mu.Unlock()
	s.wg.Add(1)
	go s.runJob(j, p, t)
}

// abandon releases a reserved job that never started.
func (s *Server) abandon(j *job) { s.jobs.remove(j) }

func (s *Server) runJob(j *job, p *prepared, t *sched.Ticket[Sequence]) {
	defer s.wg.Done()
	defer close(j.done)
	defer s.jobs.remove(j)
	defer j.cancel(nil)

	// The token loop only appends to live; a saver goroutine writes live to
	// the store every SaveEvery and only then publishes it to the watchers.
	// So the generation never waits on the database, and whatever a page
	// has shown is already stored: kill -9 loses nothing that was seen.
	var (
		liveMu sync.Mutex
		live   = j.msg
		dirty  bool
	)
	saveAndPublish := func() {
		liveMu.Lock()
		m, changed := live, dirty
		dirty = false
		liveMu.Unlock()
		if !changed {
			return
		}
		// Saving must outlive the job's cancellation (a stopped answer is
		// saved after the stop), but not hang shutdown forever.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), 10*time.Second)
		defer cancel()
		if err := s.store.UpdateMessage(ctx, &m); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("saving a streaming answer", "message", m.ID, "err", err)
		}
		j.update(func(pub *store.Message) {
			*pub = m
			if m.Content != "" || m.Thinking != "" {
				j.status = ""
			}
		})
	}
	edit := func(f func(m *store.Message)) {
		liveMu.Lock()
		f(&live)
		dirty = true
		liveMu.Unlock()
	}
	stopSaver := make(chan struct{})
	saverDone := make(chan struct{})
	go func() {
		defer close(saverDone)
		tick := time.NewTicker(s.cfg.SaveEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				saveAndPublish()
			case <-stopSaver:
				return
			}
		}
	}()

	started := time.Now()
	out, err := s.runTicket(j.ctx, p, t, genHooks{
		Queued: func(pos int) {
			j.setStatus(fmt.Sprintf("Waiting for the model: position %d in the queue…", pos))
		},
		Started: func() {
			edit(func(m *store.Message) {
				m.State = store.StateStreaming
				m.Stats.Queued = time.Since(started)
			})
			j.setStatus("Reading the conversation…")
		},
		Delta: func(th, c string) error {
			edit(func(m *store.Message) {
				m.Thinking += th
				m.Content += c
			})
			return nil
		},
	})
	close(stopSaver)
	<-saverDone
	// The final state is saved before it is announced, so a page that
	// reloads on "done" reads the finished message from the store.
	edit(func(m *store.Message) {
		m.Stats = store.Stats{
			PromptTokens: out.PromptTokens, CachedTokens: out.CachedTokens, GenTokens: out.GenTokens,
			TTFT: out.TimeToFirstToken, Duration: out.Duration, Queued: out.Queued, StopReason: out.StopReason,
		}
		switch {
		case err == nil:
			m.State = store.StateDone
		case errors.Is(err, errStopped), errors.Is(err, errDetached), errors.Is(err, errShutdown), errors.Is(err, context.Canceled):
			m.State = store.StateStopped
			m.Stats.StopReason = StopCancelled
		default:
			m.State = store.StateError
			m.Stats.StopReason = StopError
			m.Error = classify(err).msg
			s.log.Warn("web generation failed", "session", j.sid, "err", err)
		}
	})
	j.setStatus("")
	saveAndPublish()
}
