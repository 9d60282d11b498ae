// Package store persists chat sessions: their settings, their messages
// (with the thinking part kept apart from the answer) and the statistics of
// each generated answer.
//
// Store is an interface so that another database (PostgreSQL) can be added
// beside store/sqlite without touching the server. Implementations must be
// safe for concurrent use.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a session or message does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is the persistence the chat server needs.
//
// Messages of a session are ordered by Seq, which the store assigns
// (1, 2, 3, … within a session, never reused while the message exists).
type Store interface {
	// CreateSession stores a new session. s.ID must be set by the caller
	// (a UUID v7, so ids sort by creation time); CreatedAt and UpdatedAt
	// are set to now when zero.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns one session, or ErrNotFound.
	Session(ctx context.Context, id string) (*Session, error)
	// Sessions lists sessions, most recently updated first, at most limit
	// of them (limit <= 0 means all).
	Sessions(ctx context.Context, limit int) ([]Session, error)
	// UpdateSession replaces the title and settings of a session and bumps
	// UpdatedAt, or returns ErrNotFound.
	UpdateSession(ctx context.Context, s *Session) error
	// DeleteSession removes a session and its messages, or returns
	// ErrNotFound.
	DeleteSession(ctx context.Context, id string) error

	// AddMessage appends a message to its session, setting m.ID (when
	// empty), m.Seq and m.CreatedAt, and bumps the session's UpdatedAt.
	AddMessage(ctx context.Context, m *Message) error
	// UpdateMessage replaces the mutable parts of a message (content,
	// thinking, state, stats), or returns ErrNotFound. The streaming
	// generator calls it repeatedly so that a crash loses at most the
	// tokens produced since the last call.
	UpdateMessage(ctx context.Context, m *Message) error
	// Message returns one message, or ErrNotFound.
	Message(ctx context.Context, id string) (*Message, error)
	// Messages returns a session's messages in order.
	Messages(ctx context.Context, sessionID string) ([]Message, error)
	// DeleteMessagesFrom deletes the messages of a session with Seq >= seq
	// (used by regenerate and edit-and-resend).
	DeleteMessagesFrom(ctx context.Context, sessionID string, seq int) error
	// StopUnfinished marks every queued or streaming message as stopped
	// and returns how many it changed. The server calls it at start-up:
	// after a crash nothing is generating any more, and the partial
	// answers saved so far must show as stopped, not as still running.
	StopUnfinished(ctx context.Context) (int, error)

	// Close releases the store's resources.
	Close() error
}

// Session is one conversation.
type Session struct {
	ID        string
	Title     string
	Settings  Settings
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Settings are a session's generation settings. Zero values mean "use the
// server default" except where noted.
type Settings struct {
	// System is the system prompt ("" for the model's default).
	System string `json:"system,omitempty"`
	// Thinking is the session's default for new messages' thinking
	// toggle.
	Thinking bool `json:"thinking"`
	// Temperature is the sampling temperature; nil means the default,
	// 0 means greedy.
	Temperature *float64 `json:"temperature,omitempty"`
	// TopP is the nucleus sampling threshold; nil means the default.
	TopP *float64 `json:"top_p,omitempty"`
	// TopK keeps the K most likely tokens; nil means the default, 0 off.
	TopK *int `json:"top_k,omitempty"`
	// MinP drops tokens below MinP times the top probability; nil means
	// the default.
	MinP *float64 `json:"min_p,omitempty"`
	// MaxTokens bounds the answer length; 0 means up to the context.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Seed makes sampling reproducible; nil means a random seed.
	Seed *int64 `json:"seed,omitempty"`
	// Context is the session's KV cache size in tokens; 0 means the
	// server default.
	Context int `json:"context,omitempty"`
}

// Role is who wrote a message.
type Role string

// The roles a message can have.
const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// State is the lifecycle state of an assistant message.
type State string

// The states of a message. User messages are always Done.
const (
	// StateQueued: waiting for the model.
	StateQueued State = "queued"
	// StateStreaming: tokens are being generated.
	StateStreaming State = "streaming"
	// StateDone: the answer finished (stop token, stop string or length).
	StateDone State = "done"
	// StateStopped: cancelled by the user, a disconnect or shutdown; the
	// content is the partial answer.
	StateStopped State = "stopped"
	// StateError: generation failed; Error holds why.
	StateError State = "error"
)

// Finished reports whether no more tokens will be added to a message in
// this state.
func (s State) Finished() bool {
	return s == StateDone || s == StateStopped || s == StateError
}

// Message is one turn of a session.
type Message struct {
	ID        string
	SessionID string
	Seq       int
	Role      Role
	// Content is the user's text, or the assistant's answer without the
	// thinking block.
	Content string
	// Thinking is the assistant's reasoning (the text inside <think>…</think>).
	Thinking string
	// ThinkingEnabled records whether thinking was requested for this turn
	// (on a user message: what the user asked; on an assistant message:
	// what was used).
	ThinkingEnabled bool
	State           State
	// Error explains StateError.
	Error     string
	Stats     Stats
	CreatedAt time.Time
}

// Stats describes how an assistant message was generated.
type Stats struct {
	PromptTokens int `json:"prompt_tokens,omitempty"`
	// CachedTokens is how many prompt tokens were reused from the KV
	// cache instead of being processed again.
	CachedTokens int `json:"cached_tokens,omitempty"`
	GenTokens    int `json:"gen_tokens,omitempty"`
	// TTFT is the time from the start of processing (after any queueing)
	// to the first generated token.
	TTFT time.Duration `json:"ttft_ns,omitempty"`
	// Duration is the whole generation time, prefill included.
	Duration time.Duration `json:"duration_ns,omitempty"`
	// Queued is how long the request waited for the model.
	Queued time.Duration `json:"queued_ns,omitempty"`
	// StopReason is why generation ended: "eos", "stop", "length",
	// "cancelled", "error".
	StopReason string `json:"stop_reason,omitempty"`
}

// TokensPerSecond is the decode speed: generated tokens after the first
// over the time after the first token. It is 0 when not measurable.
func (s Stats) TokensPerSecond() float64 {
	d := s.Duration - s.TTFT
	if s.GenTokens < 2 || d <= 0 {
		return 0
	}
	return float64(s.GenTokens-1) / d.Seconds()
}
