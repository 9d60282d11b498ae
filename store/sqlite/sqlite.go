// Package sqlite implements store.Store on SQLite through modernc.org/sqlite,
// a pure-Go build of SQLite, so smolbot stays a single static binary.
//
// The database runs in WAL mode with synchronous=NORMAL: a committed write
// survives the process being killed (kill -9); only an OS crash or power loss
// may drop the last transactions. Readers never block the writer.
//
// The schema is versioned: migrations is an append-only list, and the
// database's user_version records how many have been applied.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/smolbot/smolbot/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// migrations are applied in order; entry i moves the schema from version i
// to i+1. Never edit an entry once released: append a new one.
var migrations = []string{
	// 1: sessions and messages.
	`CREATE TABLE sessions (
		id         TEXT PRIMARY KEY,
		title      TEXT NOT NULL DEFAULT '',
		settings   TEXT NOT NULL DEFAULT '{}',
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);
	CREATE INDEX sessions_updated ON sessions(updated_at DESC);
	CREATE TABLE messages (
		id               TEXT PRIMARY KEY,
		session_id       TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
		seq              INTEGER NOT NULL,
		role             TEXT NOT NULL,
		content          TEXT NOT NULL DEFAULT '',
		thinking         TEXT NOT NULL DEFAULT '',
		thinking_enabled INTEGER NOT NULL DEFAULT 0,
		state            TEXT NOT NULL,
		error            TEXT NOT NULL DEFAULT '',
		prompt_tokens    INTEGER NOT NULL DEFAULT 0,
		cached_tokens    INTEGER NOT NULL DEFAULT 0,
		gen_tokens       INTEGER NOT NULL DEFAULT 0,
		ttft_ns          INTEGER NOT NULL DEFAULT 0,
		duration_ns      INTEGER NOT NULL DEFAULT 0,
		queued_ns        INTEGER NOT NULL DEFAULT 0,
		stop_reason      TEXT NOT NULL DEFAULT '',
		created_at       INTEGER NOT NULL,
		UNIQUE (session_id, seq)
	);`,
}

// DB is a store.Store backed by one SQLite database file.
type DB struct {
	db *sql.DB
}

var _ store.Store = (*DB)(nil)

// FileName is the database file Open creates inside a data directory.
const FileName = "smolbot.db"

// Open opens (creating if needed) the database in directory dir and brings
// its schema up to date.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data dir: %w", err)
	}
	return OpenFile(filepath.Join(dir, FileName))
}

// OpenFile opens (creating if needed) the database at path and brings its
// schema up to date.
func OpenFile(path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(1)",
		"busy_timeout(10000)",
	} {
		q.Add("_pragma", p)
	}
	// Immediate transactions take the write lock up front, so two writers
	// queue on busy_timeout instead of failing with SQLITE_BUSY on upgrade.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &DB{db: db}
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return s, nil
}

// SchemaVersion returns the number of migrations applied to the database.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func (s *DB) migrate(ctx context.Context) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this smolbot (knows %d): upgrade smolbot", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		// PRAGMA takes no bound parameters; i+1 is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: set version: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: commit: %w", i+1, err)
		}
	}
	return nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n) }

// CreateSession implements store.Store.
func (s *DB) CreateSession(ctx context.Context, sess *store.Session) error {
	if sess.ID == "" {
		return errors.New("sqlite: session without id")
	}
	now := time.Now()
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = now
	}
	if sess.UpdatedAt.IsZero() {
		sess.UpdatedAt = now
	}
	settings, err := json.Marshal(sess.Settings)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO sessions (id, title, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		sess.ID, sess.Title, string(settings), nanos(sess.CreatedAt), nanos(sess.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanSession(r scanner) (*store.Session, error) {
	var (
		sess             store.Session
		settings         string
		created, updated int64
	)
	if err := r.Scan(&sess.ID, &sess.Title, &settings, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(settings), &sess.Settings); err != nil {
		return nil, fmt.Errorf("session %s: settings: %w", sess.ID, err)
	}
	sess.CreatedAt, sess.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &sess, nil
}

const sessionCols = `id, title, settings, created_at, updated_at`

// Session implements store.Store.
func (s *DB) Session(ctx context.Context, id string) (*store.Session, error) {
	sess, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session %s: %w", id, err)
	}
	return sess, nil
}

// Sessions implements store.Store.
func (s *DB) Sessions(ctx context.Context, limit int) ([]store.Session, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions ORDER BY updated_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list sessions: %w", err)
		}
		out = append(out, *sess)
	}
	return out, rows.Err()
}

// UpdateSession implements store.Store.
func (s *DB) UpdateSession(ctx context.Context, sess *store.Session) error {
	settings, err := json.Marshal(sess.Settings)
	if err != nil {
		return err
	}
	sess.UpdatedAt = time.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET title = ?, settings = ?, updated_at = ? WHERE id = ?`,
		sess.Title, string(settings), nanos(sess.UpdatedAt), sess.ID)
	return affected(res, err, "update session "+sess.ID)
}

// DeleteSession implements store.Store.
func (s *DB) DeleteSession(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return affected(res, err, "delete session "+id)
}

func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// AddMessage implements store.Store.
func (s *DB) AddMessage(ctx context.Context, m *store.Message) error {
	if m.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		m.ID = id.String()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET updated_at = ? WHERE id = ?`, nanos(m.CreatedAt), m.SessionID)
	if err := affected(res, err, "add message"); err != nil {
		return err
	}
	// The seq is computed inside the insert, under the write lock, so
	// concurrent appends to one session cannot collide.
	err = tx.QueryRowContext(ctx, `INSERT INTO messages
		(id, session_id, seq, role, content, thinking, thinking_enabled, state, error,
		 prompt_tokens, cached_tokens, gen_tokens, ttft_ns, duration_ns, queued_ns, stop_reason, created_at)
		VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?),
		        ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING seq`,
		m.ID, m.SessionID, m.SessionID, string(m.Role), m.Content, m.Thinking, m.ThinkingEnabled, string(m.State), m.Error,
		m.Stats.PromptTokens, m.Stats.CachedTokens, m.Stats.GenTokens, int64(m.Stats.TTFT), int64(m.Stats.Duration),
		int64(m.Stats.Queued), m.Stats.StopReason, nanos(m.CreatedAt)).Scan(&m.Seq)
	if err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: add message: %w", err)
	}
	return nil
}

// UpdateMessage implements store.Store.
func (s *DB) UpdateMessage(ctx context.Context, m *store.Message) error {
	res, err := s.db.ExecContext(ctx, `UPDATE messages SET
		content = ?, thinking = ?, thinking_enabled = ?, state = ?, error = ?,
		prompt_tokens = ?, cached_tokens = ?, gen_tokens = ?, ttft_ns = ?, duration_ns = ?, queued_ns = ?, stop_reason = ?
		WHERE id = ?`,
		m.Content, m.Thinking, m.ThinkingEnabled, string(m.State), m.Error,
		m.Stats.PromptTokens, m.Stats.CachedTokens, m.Stats.GenTokens, int64(m.Stats.TTFT), int64(m.Stats.Duration),
		int64(m.Stats.Queued), m.Stats.StopReason, m.ID)
	return affected(res, err, "update message "+m.ID)
}

const messageCols = `id, session_id, seq, role, content, thinking, thinking_enabled, state, error,
	prompt_tokens, cached_tokens, gen_tokens, ttft_ns, duration_ns, queued_ns, stop_reason, created_at`

func scanMessage(r scanner) (*store.Message, error) {
	var (
		m                    store.Message
		role, state          string
		ttft, dur, queued, c int64
	)
	err := r.Scan(&m.ID, &m.SessionID, &m.Seq, &role, &m.Content, &m.Thinking, &m.ThinkingEnabled, &state, &m.Error,
		&m.Stats.PromptTokens, &m.Stats.CachedTokens, &m.Stats.GenTokens, &ttft, &dur, &queued, &m.Stats.StopReason, &c)
	if err != nil {
		return nil, err
	}
	m.Role, m.State = store.Role(role), store.State(state)
	m.Stats.TTFT, m.Stats.Duration, m.Stats.Queued = time.Duration(ttft), time.Duration(dur), time.Duration(queued)
	m.CreatedAt = fromNanos(c)
	return &m, nil
}

// Message implements store.Store.
func (s *DB) Message(ctx context.Context, id string) (*store.Message, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: message %s: %w", id, err)
	}
	return m, nil
}

// Messages implements store.Store.
func (s *DB) Messages(ctx context.Context, sessionID string) ([]store.Message, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+messageCols+` FROM messages WHERE session_id = ? ORDER BY seq`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: messages of %s: %w", sessionID, err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: messages of %s: %w", sessionID, err)
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

// DeleteMessagesFrom implements store.Store.
func (s *DB) DeleteMessagesFrom(ctx context.Context, sessionID string, seq int) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM messages WHERE session_id = ? AND seq >= ?`, sessionID, seq); err != nil {
		return fmt.Errorf("sqlite: delete messages of %s: %w", sessionID, err)
	}
	return nil
}

// StopUnfinished implements store.Store.
func (s *DB) StopUnfinished(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE messages SET state = ?, stop_reason = 'cancelled' WHERE state IN (?, ?)`,
		string(store.StateStopped), string(store.StateQueued), string(store.StateStreaming))
	if err != nil {
		return 0, fmt.Errorf("sqlite: stop unfinished messages: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
