package server

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/smolbot/smolbot/server/scriptmodel"
	"github.com/smolbot/smolbot/store"
)

// Browser end-to-end tests: Debian's chromium, headless, driven by
// chromedp. Skipped when chromium is absent, except under CI=true, where
// its absence is a setup bug.

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: CI must install it (apt-get install -y chromium)")
	}
	t.Skip("chromium not found (apt-get install -y chromium); skipping browser tests")
	return ""
}

// newBrowser starts a fresh headless chromium and returns a tab context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser with the context that lives as long as the test.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// do runs browser actions with a deadline, failing the test on error.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// poll waits until the JavaScript expression is truthy. It evaluates in a
// loop rather than with a page-side poll, so it survives navigations (the
// first message moves to the chat's page).
func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(10 * time.Millisecond)
	}
	html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#messages') ? document.querySelector('#messages').outerHTML.slice(-3000) : document.body.outerHTML.slice(0, 3000)`))
	t.Fatalf("waiting for %s (last error %v)\nmessages: %s", what, lastErr, html)
}

// typeAndEnter types into the focused message box and presses Enter, as a
// keyboard-only user does.
func typeAndEnter(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	do(t, ctx, "type a message",
		chromedp.Focus(chromedp.CSS("#prompt")),
		chromedp.KeyEvent(text),
		chromedp.KeyEvent(kb.Enter),
	)
}

// browserScript thinks for a while, then answers at length.
var browserScript = func() scriptmodel.Script {
	th := "Why?" + scriptmodel.Distinct(12, "Why? ")
	return scriptmodel.Script{Thinking: th, Answer: "Ok! " + scriptmodel.Distinct(40, th+"Ok! ")}
}()

func TestBrowserChat(t *testing.T) {
	ctx := newBrowser(t)
	ts := startServer(t, newModel(t, browserScript), Config{TokenDelay: 30 * time.Millisecond, SaveEvery: 40 * time.Millisecond, Thinking: true})
	live := `document.querySelector('#messages .msg.assistant[sse-connect]')`

	do(t, ctx, "open the page", chromedp.Navigate(ts.url("/")), chromedp.WaitVisible(chromedp.CSS("#prompt")))
	if got := eval[bool](t, ctx, `document.activeElement && document.activeElement.id === 'prompt'`); !got {
		t.Fatal("the message box is not focused on load")
	}

	t.Run("stream with thinking", func(t *testing.T) {
		typeAndEnter(t, ctx, `Hi there <img src=x onerror="window.__pwned='user'">`)
		// The first message creates the chat and moves to its page.
		poll(t, ctx, "the chat page", `location.pathname.startsWith('/s/')`)
		// Thinking streams live in an open Thinking block.
		poll(t, ctx, "thinking while streaming", live+` && `+live+`.querySelector('details.thinking[open] .thinking-body').textContent.includes('Why?')`)
		// Answer tokens arrive before the answer completes.
		poll(t, ctx, "answer tokens while streaming", live+` && `+live+`.querySelector('.answer').textContent.length > 0`)
		// The Thinking block collapses once the answer starts.
		poll(t, ctx, "thinking collapsed", `!document.querySelector('#messages .msg.assistant details.thinking').open`)
		// Done: the final message replaces the live one.
		poll(t, ctx, "answer complete", `!`+live+` && document.querySelector('#messages .msg.assistant[data-state=done]')`)
		text := eval[string](t, ctx, `document.querySelector('#messages .msg.assistant .answer').textContent`)
		if strings.TrimSpace(text) != browserScript.Answer {
			t.Fatalf("answer text %q, want %q", text, browserScript.Answer)
		}
		thinking := eval[string](t, ctx, `document.querySelector('#messages .msg.assistant .thinking-body').textContent`)
		if strings.TrimSpace(thinking) != strings.TrimSpace(browserScript.Thinking) {
			t.Fatalf("thinking %q", thinking)
		}
		stats := eval[string](t, ctx, `document.querySelector('#messages .msg.assistant .stats').textContent`)
		if !strings.Contains(stats, "tokens") || !strings.Contains(stats, "tok/s") || !strings.Contains(stats, "first token") || !strings.Contains(stats, "finished") {
			t.Fatalf("stats line %q", stats)
		}
		if pwned := eval[string](t, ctx, `String(window.__pwned)`); pwned != "undefined" {
			t.Fatalf("injected script ran: %s", pwned)
		}
		if !strings.Contains(eval[string](t, ctx, `document.querySelector('#messages .msg.user .text').textContent`), `<img src=x onerror=`) {
			t.Fatal("the user's HTML is not shown as text")
		}
	})

	sid := strings.TrimPrefix(eval[string](t, ctx, `location.pathname`), "/s/")

	t.Run("sidebar and reload", func(t *testing.T) {
		title := eval[string](t, ctx, `document.querySelector('#sessions a[href="/s/`+sid+`"] .s-title').textContent`)
		if !strings.HasPrefix(title, "Hi there") {
			t.Fatalf("sidebar title %q", title)
		}
		do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#messages .msg.assistant")))
		if got := eval[int](t, ctx, `document.querySelectorAll('#messages .msg').length`); got != 2 {
			t.Fatalf("%d messages after reload", got)
		}
		if !strings.Contains(eval[string](t, ctx, `document.querySelector('#messages .msg.assistant .answer').textContent`), browserScript.Answer) {
			t.Fatal("answer lost on reload")
		}
		if eval[bool](t, ctx, `document.querySelector('#messages .msg.assistant details.thinking').open`) {
			t.Fatal("finished thinking block should be collapsed")
		}
	})

	t.Run("stop with Escape", func(t *testing.T) {
		typeAndEnter(t, ctx, "Tell me more")
		poll(t, ctx, "second answer streaming", live+` && `+live+`.querySelector('.answer').textContent.length > 0`)
		if eval[bool](t, ctx, `document.querySelector('#stop').hidden`) {
			t.Fatal("stop button hidden while streaming")
		}
		do(t, ctx, "press Escape", chromedp.KeyEvent(kb.Escape))
		poll(t, ctx, "stopped answer", `!`+live+` && document.querySelector('#messages .msg.assistant:last-child').dataset.state === 'stopped'`)
		if !strings.Contains(eval[string](t, ctx, `document.querySelector('#messages .msg.assistant:last-child .stats').textContent`), "stopped") {
			t.Fatal("stats do not say stopped")
		}
		msgs, err := ts.store.Messages(context.Background(), sid)
		if err != nil || len(msgs) != 4 || msgs[3].State != store.StateStopped || msgs[3].Content == "" || msgs[3].Content == browserScript.Answer {
			t.Fatalf("stored stopped answer: %+v %v", msgs, err)
		}
		poll(t, ctx, "send button back", `!document.querySelector('#send').disabled && document.querySelector('#stop').hidden`)
	})

	t.Run("regenerate", func(t *testing.T) {
		do(t, ctx, "click regenerate", chromedp.Click(chromedp.CSS("#messages .msg.assistant:last-child .last-only")))
		poll(t, ctx, "regenerated answer complete", `!`+live+` && document.querySelector('#messages .msg.assistant:last-child').dataset.state === 'done'`)
		if got := eval[int](t, ctx, `document.querySelectorAll('#messages .msg').length`); got != 4 {
			t.Fatalf("%d messages after regenerate", got)
		}
	})

	t.Run("new chat", func(t *testing.T) {
		do(t, ctx, "new chat", chromedp.Click(chromedp.CSS("#new-chat")), chromedp.WaitVisible(chromedp.CSS("#prompt")))
		typeAndEnter(t, ctx, "Second chat")
		poll(t, ctx, "second chat page", `location.pathname.startsWith('/s/') && !location.pathname.endsWith('`+sid+`')`)
		poll(t, ctx, "both chats in the sidebar", `document.querySelectorAll('#sessions li a').length === 2`)
		poll(t, ctx, "answer complete", `!`+live+` && document.querySelector('#messages .msg.assistant:last-child').dataset.state === 'done'`)
	})

	t.Run("phone width and dark", func(t *testing.T) {
		do(t, ctx, "phone viewport", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#prompt")))
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 375 {
			t.Fatalf("page is %d px wide on a 375 px screen", w)
		}
		if !eval[bool](t, ctx, `getComputedStyle(document.querySelector('#open-sidebar')).display !== 'none'`) {
			t.Fatal("no chats button on a narrow screen")
		}
		do(t, ctx, "open the chat list", chromedp.Click(chromedp.CSS("#open-sidebar")))
		poll(t, ctx, "sidebar open", `document.body.classList.contains('sidebar-open')`)
		light := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`)
		do(t, ctx, "dark scheme", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return chromedp.Void{}, err
		})
		dark := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`)
		if light == dark || dark != "rgb(21, 23, 27)" {
			t.Fatalf("light %s, dark %s", light, dark)
		}
	})
}
