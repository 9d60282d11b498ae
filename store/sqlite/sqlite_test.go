package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/smolbot/smolbot/store"
)

func newID(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSessionsCRUD(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	temp := 0.3
	seed := int64(42)
	a := &store.Session{ID: newID(t), Title: "first", Settings: store.Settings{System: "be brief", Thinking: true, Temperature: &temp, Seed: &seed, MaxTokens: 99, Context: 2048}}
	if err := db.CreateSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // distinct updated_at for ordering
	b := &store.Session{ID: newID(t), Title: "second"}
	if err := db.CreateSession(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, err := db.Session(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "first" || got.Settings.System != "be brief" || !got.Settings.Thinking ||
		*got.Settings.Temperature != 0.3 || *got.Settings.Seed != 42 || got.Settings.TopP != nil ||
		got.Settings.MaxTokens != 99 || got.Settings.Context != 2048 {
		t.Fatalf("session round trip: %+v", got)
	}
	list, err := db.Sessions(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != b.ID {
		t.Fatalf("list order: %+v", list)
	}
	a.Title = "renamed"
	if err := db.UpdateSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	list, _ = db.Sessions(ctx, 1)
	if len(list) != 1 || list[0].ID != a.ID || list[0].Title != "renamed" {
		t.Fatalf("after update, most recent first: %+v", list)
	}
	if err := db.DeleteSession(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Session(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: err %v", err)
	}
	if err := db.DeleteSession(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: err %v", err)
	}
	if err := db.UpdateSession(ctx, &store.Session{ID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: err %v", err)
	}
}

func TestMessages(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	sess := &store.Session{ID: newID(t)}
	if err := db.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	u := &store.Message{SessionID: sess.ID, Role: store.RoleUser, Content: "hi <b>", ThinkingEnabled: true, State: store.StateDone}
	if err := db.AddMessage(ctx, u); err != nil {
		t.Fatal(err)
	}
	a := &store.Message{SessionID: sess.ID, Role: store.RoleAssistant, State: store.StateStreaming, ThinkingEnabled: true}
	if err := db.AddMessage(ctx, a); err != nil {
		t.Fatal(err)
	}
	if u.Seq != 1 || a.Seq != 2 || u.ID == "" || u.ID == a.ID {
		t.Fatalf("seq/id: %d %d %q %q", u.Seq, a.Seq, u.ID, a.ID)
	}
	a.Content, a.Thinking, a.State = "answer", "hmm", store.StateDone
	a.Stats = store.Stats{PromptTokens: 10, CachedTokens: 4, GenTokens: 5, TTFT: 3 * time.Millisecond, Duration: time.Second, Queued: time.Millisecond, StopReason: "eos"}
	if err := db.UpdateMessage(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateMessage(ctx, &store.Message{ID: "missing"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing message: %v", err)
	}

	// Reopen: everything persisted.
	db.Close()
	db = open(t, dir)
	msgs, err := db.Messages(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if got := msgs[1]; got.Content != "answer" || got.Thinking != "hmm" || got.State != store.StateDone || got.Stats != a.Stats || !got.ThinkingEnabled {
		t.Fatalf("assistant round trip: %+v", got)
	}
	if got := msgs[0]; got.Content != "hi <b>" || got.Role != store.RoleUser {
		t.Fatalf("user round trip: %+v", got)
	}
	one, err := db.Message(ctx, a.ID)
	if err != nil || one.Seq != 2 {
		t.Fatalf("Message: %+v %v", one, err)
	}

	// Delete from seq 2; a new message takes seq 2 again.
	if err := db.DeleteMessagesFrom(ctx, sess.ID, 2); err != nil {
		t.Fatal(err)
	}
	b := &store.Message{SessionID: sess.ID, Role: store.RoleAssistant, State: store.StateQueued}
	if err := db.AddMessage(ctx, b); err != nil {
		t.Fatal(err)
	}
	if b.Seq != 2 {
		t.Fatalf("seq after delete: %d", b.Seq)
	}
	// Crash recovery: unfinished becomes stopped.
	n, err := db.StopUnfinished(ctx)
	if err != nil || n != 1 {
		t.Fatalf("StopUnfinished = %d, %v", n, err)
	}
	if m, _ := db.Message(ctx, b.ID); m.State != store.StateStopped {
		t.Fatalf("state after StopUnfinished: %s", m.State)
	}

	// Messages go with their session.
	if err := db.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Message(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("message of deleted session: %v", err)
	}
	if err := db.AddMessage(ctx, &store.Message{SessionID: sess.ID, Role: store.RoleUser, State: store.StateDone}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("add to missing session: %v", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	sess := &store.Session{ID: newID(t)}
	if err := db.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			m := &store.Message{SessionID: sess.ID, Role: store.RoleUser, Content: fmt.Sprint(i), State: store.StateDone}
			if err := db.AddMessage(ctx, m); err != nil {
				errs <- err
				return
			}
			for j := range 5 {
				m.Content = fmt.Sprint(i, "-", j)
				if err := db.UpdateMessage(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	msgs, err := db.Messages(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != n {
		t.Fatalf("got %d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if m.Seq != i+1 {
			t.Fatalf("seq %d at %d", m.Seq, i)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	v, err := db.SchemaVersion(context.Background())
	if err != nil || v != len(migrations) {
		t.Fatalf("version %d, %v; want %d", v, err, len(migrations))
	}
	// A database from a newer smolbot is refused, not silently misread.
	if _, err := db.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenFile(filepath.Join(dir, FileName)); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}
