package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/server"
	"github.com/smolbot/smolbot/store/sqlite"
)

func init() {
	c := &command{
		name:    "serve",
		summary: "serve the web chat and the OpenAI-compatible API",
		usage:   "[-m MODEL] [--pull] [--addr HOST:PORT] [--data DIR] [--api-key KEY] [-t N] [--ctx N] [--kv TYPE] [flags]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error {
		o, err := parseServeFlags(c, args, stderr)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// After the first signal, restore the default handling: a second
		// Ctrl-C during shutdown ends the process at once.
		go func() { <-ctx.Done(); stop() }()
		return serve(ctx, o, stdout, stderr)
	}
	register(c)
}

// serveOptions are the parsed flags of `smolbot serve`.
type serveOptions struct {
	model      *modelFlags
	addr       string
	dataDir    string
	threads    int
	ctx        int
	kv         string
	apiKey     string
	parallel   int
	queue      int
	kvBudget   int64
	cors       string
	thinking   bool
	tokenDelay time.Duration // hidden: tests and demos
}

func parseServeFlags(c *command, args []string, stderr io.Writer) (*serveOptions, error) {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	o := &serveOptions{}
	o.model = addModelFlags(fs)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`HOST:PORT` to listen on (use :8080 to accept other machines; set --api-key then)")
	fs.StringVar(&o.dataDir, "data", "", "keep the chat database in `DIR` (default: the user data directory, e.g. ~/.local/share/smolbot)")
	fs.IntVar(&o.threads, "t", 0, "`N` compute threads (0: all cores)")
	fs.IntVar(&o.ctx, "ctx", 0, "context size per conversation in `N` tokens (0: 8192, at most the model's)")
	fs.StringVar(&o.kv, "kv", "f16", "KV cache `TYPE`: f16, f32 (exact, twice the memory) or q8_0 (half)")
	fs.StringVar(&o.apiKey, "api-key", "", "require `KEY` for the API and for changes in the web UI (default $SMOLBOT_API_KEY)")
	fs.IntVar(&o.parallel, "parallel", 4, "`N` conversations generated at once (their decode steps are batched); others wait in the queue")
	fs.IntVar(&o.queue, "queue", 64, "`N` requests may wait for the model; more are refused with 429")
	budget := fs.String("kv-budget", "2GiB", "memory `SIZE` for the KV caches of idle conversations (e.g. 512MiB, 4GiB; 0 keeps none)")
	fs.StringVar(&o.cors, "cors", "", "allow browser API calls from `ORIGIN` (e.g. https://app.example, or *); off by default")
	fs.BoolVar(&o.thinking, "think", true, "new web chats start with thinking on (each message can still turn it off)")
	noThink := fs.Bool("no-think", false, "new web chats start with thinking off (same as --think=false)")
	fs.DurationVar(&o.tokenDelay, "token-delay", 0, "slow every token down by `DURATION` (demos and tests)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usageError("unexpected arguments %q (the model goes after -m)", fs.Args())
	}
	if *noThink {
		o.thinking = false
	}
	if o.apiKey == "" {
		o.apiKey = os.Getenv("SMOLBOT_API_KEY")
	}
	var err error
	if o.kvBudget, err = parseBytes(*budget); err != nil {
		return nil, usageError("--kv-budget: %v", err)
	}
	switch {
	case o.threads < 0:
		return nil, usageError("-t must be >= 0")
	case o.ctx < 0:
		return nil, usageError("--ctx must be >= 0")
	}
	if _, err := kvcache.ParseType(o.kv); err != nil {
		return nil, usageError("--kv: %v", err)
	}
	switch {
	case o.parallel < 1:
		return nil, usageError("--parallel must be >= 1")
	case o.queue < 1:
		return nil, usageError("--queue must be >= 1")
	}
	if o.dataDir == "" {
		if o.dataDir, err = defaultDataDir(); err != nil {
			return nil, fmt.Errorf("finding the data directory (set --data): %w", err)
		}
	}
	return o, nil
}

// defaultDataDir is where chats are kept: $XDG_DATA_HOME/smolbot (default
// ~/.local/share/smolbot) on Unix, the application data folder on macOS and
// Windows. Chats are user data, not cache or configuration.
func defaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "smolbot"), nil
	}
	switch runtime.GOOS {
	case "darwin", "windows", "ios", "plan9":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "smolbot"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "smolbot"), nil
}

// parseBytes reads a size such as "2GiB", "512MB", "1.5G" or "1048576".
// K, M, G and T (with or without "iB"/"B") are powers of 1024, as memory
// sizes usually are; "KB"/"MB"/"GB" are powers of 1000.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRightFunc(t, func(r rune) bool { return r < '0' || r > '9' && r != '.' })
	unit := strings.ToUpper(strings.TrimSpace(t[len(num):]))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad size %q (e.g. 512MiB, 2GiB)", s)
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"K": 1 << 10, "KIB": 1 << 10, "KB": 1e3,
		"M": 1 << 20, "MIB": 1 << 20, "MB": 1e6,
		"G": 1 << 30, "GIB": 1 << 30, "GB": 1e9,
		"T": 1 << 40, "TIB": 1 << 40, "TB": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("bad size unit %q in %q", unit, s)
	}
	return int64(f * mult), nil
}

// modelOptions are the engine settings from the command line.
type modelOptions struct {
	threads int
	kv      string    // KV cache type ("": the engine's default)
	warn    io.Writer // receives the loader's warnings (nil: dropped)
}

// servedModel is a loaded model the server can use and serve can close.
type servedModel interface {
	server.Model
	io.Closer
}

// openModel loads the model at path (a variable so tests can count loads).
var openModel = func(path string, o modelOptions) (servedModel, error) {
	e, err := engine.Load(path, engine.Options{Threads: o.threads, KVType: o.kv})
	if err != nil {
		return nil, err
	}
	if o.warn != nil {
		for _, w := range e.Warnings() {
			fmt.Fprintf(o.warn, "warning: %s\n", w)
		}
	}
	return server.NewEngineModel(e, path), nil
}

// serve runs the server until ctx ends: it listens at once, loads the model
// in the background (GET /healthz says 503 until then), and on shutdown
// stops generations (saving partial answers) before closing connections.
func serve(ctx context.Context, o *serveOptions, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// A model missing from the cache fails before anything starts, with
	// the command that fetches it; with --pull it downloads while the
	// server already answers (GET /healthz says 503 until it is loaded).
	var path string
	if !o.model.pull {
		var err error
		if path, err = o.model.resolve(ctx, stderr); err != nil {
			return err
		}
	}
	db, err := sqlite.Open(o.dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	budget := o.kvBudget
	if budget == 0 {
		budget = -1 // server.Config: negative keeps no idle cache
	}
	srv, err := server.New(server.Config{
		Store: db, Logger: log, APIKey: o.apiKey, CORSOrigin: o.cors,
		Parallel: o.parallel, MaxQueue: o.queue, KVBudget: budget, Context: o.ctx,
		Thinking: o.thinking, TokenDelay: o.tokenDelay,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	url := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(stdout, "smolbot: chats in %s\nsmolbot: listening on %s (web chat and OpenAI API at %s/v1)\n", o.dataDir, url, url)
	if o.apiKey == "" && !isLoopback(ln.Addr()) {
		log.Warn("listening beyond this machine without --api-key: anyone who can reach it can chat and delete chats")
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: answers stream for minutes; each event write has
		// its own deadline instead (server.sseWriter).
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	loadErr := make(chan error, 1)
	var loaded io.Closer
	go func() {
		path := path
		if path == "" {
			var err error
			if path, err = o.model.resolve(ctx, stderr); err != nil {
				loadErr <- err
				return
			}
		}
		log.Info("loading model", "path", path)
		start := time.Now()
		m, err := openModel(path, modelOptions{threads: o.threads, kv: o.kv, warn: stderr})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				err = fmt.Errorf("loading %s: %w", path, err)
			}
			loadErr <- err
			return
		}
		loaded = m
		log.Info("model loaded", "load_time", time.Since(start).Round(time.Millisecond))
		srv.SetModel(m)
		fmt.Fprintf(stdout, "smolbot: ready, open %s\n", url)
		loadErr <- nil
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	case err := <-loadErr:
		if err != nil {
			runErr = err
			break
		}
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			runErr = err
		}
	}
	// Shutdown: stop generations first (their streams then end), then the
	// HTTP server.
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("waiting for generations to stop", "err", err)
	}
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	if loaded != nil {
		loaded.Close()
	}
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	return nil
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return tcp.String()
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP != nil && tcp.IP.IsLoopback()
}
