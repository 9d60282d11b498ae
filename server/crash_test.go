package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/store"
	"github.com/smolbot/smolbot/store/sqlite"
)

// childEnv makes the test binary run a server instead of tests (see
// TestMain): the crash test kills that process with SIGKILL.
const childEnv = "SMOLBOT_TEST_CHILD_SERVER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if err := runChildServer(dir); err != nil {
			fmt.Fprintln(os.Stderr, "child server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChildServer serves a slow scripted model on a loopback port, printing
// "LISTEN addr" on stdout, until killed.
func runChildServer(dir string) error {
	fx := testutil.FixturesDir()
	path, err := writeScripted(filepath.Join(fx, "tiny-smollm3", "f32.gguf"), filepath.Join(fx, "tokenizer", "smollm3-vocab.gguf"), loopScript)
	if err != nil {
		return err
	}
	m, err := LoadEngine(path, EngineOptions{Threads: 1})
	if err != nil {
		return err
	}
	db, err := sqlite.Open(dir)
	if err != nil {
		return err
	}
	srv, err := New(Config{Store: db, TokenDelay: 2 * time.Millisecond, SaveEvery: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	srv.SetModel(m)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	return http.Serve(ln, srv.Handler())
}

// TestKill9KeepsShownTokens: every token a page has been shown is in the
// database after the server is killed with SIGKILL mid-answer, and the next
// start shows the answer as stopped.
func TestKill9KeepsShownTokens(t *testing.T) {
	testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LISTEN ") {
		t.Fatalf("child said %q, %v", line, err)
	}
	base := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "LISTEN "))

	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/chat", url.Values{"content": {"talk"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sid := strings.TrimPrefix(resp.Header.Get("Location"), "/s/")
	if resp.StatusCode != 303 || sid == "" {
		t.Fatalf("POST /chat: %d", resp.StatusCode)
	}
	// Find the answer's id through the page, then watch its stream.
	page, err := c.Get(base + "/s/" + sid)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := sseConnectRE.FindSubmatch(body)
	if m == nil {
		t.Fatal("no live answer on the page")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+string(m[1]), nil)
	ev, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	shown, answers := 0, 0
	sc := bufio.NewScanner(ev.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	event := ""
	for sc.Scan() && answers < 5 {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "event: "):
			event = strings.TrimPrefix(l, "event: ")
		case strings.HasPrefix(l, "data: ") && event == "answer":
			shown = strings.Count(l, "abc")
			answers++
		}
	}
	if shown == 0 {
		t.Fatal("no answer text was shown")
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	db, err := sqlite.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	msgs, err := db.Messages(context.Background(), sid)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("messages after kill: %+v %v", msgs, err)
	}
	stored := strings.Count(msgs[1].Content, "abc")
	if stored < shown {
		t.Fatalf("page showed %d abc, database has %d", shown, stored)
	}
	if msgs[1].State != store.StateStreaming {
		t.Fatalf("state after kill: %s", msgs[1].State)
	}
	// The next start marks the interrupted answer as stopped.
	srv, err := New(Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if got, _ := db.Message(context.Background(), msgs[1].ID); got.State != store.StateStopped {
		t.Fatalf("after restart: %s", got.State)
	}
	t.Logf("shown %d abc, stored %d", shown, stored)
}
