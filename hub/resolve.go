package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// NotCachedError says that a model is missing from the cache and which
// command fetches it. It wraps ErrNotCached.
type NotCachedError struct {
	Ref      string // as the user would type it
	CacheDir string
	Command  string // e.g. "smolbot pull unsloth/SmolLM3-3B-GGUF:Q4_K_M"
}

// Error gives the command that fetches the model.
func (e *NotCachedError) Error() string {
	return fmt.Sprintf("model %s is not downloaded yet (cache: %s); fetch it with:\n\n    %s\n\nor pass --pull to download it now, or -m FILE.gguf|HF-DIR to use a local model", e.Ref, e.CacheDir, e.Command)
}

// Unwrap makes errors.Is(err, ErrNotCached) true.
func (e *NotCachedError) Unwrap() error { return ErrNotCached }

// ResolveModel returns the local path of the model named by ref, for the
// commands that run a model (serve, run, chat) when no -m is given, or when
// -m names a hub reference rather than a file:
//
//   - ref "" means DefaultRef;
//   - a ref that names an existing file or directory is returned as is;
//   - otherwise ref is parsed (ParseRef) and looked up in cacheDir
//     ("" means DefaultCacheDir) without touching the network;
//   - if it is not cached and pull is false, the error is a
//     *NotCachedError whose message gives the exact `smolbot pull` command;
//   - if pull is true it is downloaded first, with a progress bar on
//     stderr, honouring HF_TOKEN, HF_ENDPOINT and proxy settings.
func ResolveModel(ref, cacheDir string, pull bool) (string, error) {
	return ResolveModelContext(context.Background(), ref, cacheDir, pull)
}

// ResolveModelContext is ResolveModel with a context that cancels a download.
func ResolveModelContext(ctx context.Context, ref, cacheDir string, pull bool) (string, error) {
	return Resolve(ctx, ref, ResolveOptions{CacheDir: cacheDir, Pull: pull, Progress: os.Stderr})
}

// ResolveOptions configure Resolve.
type ResolveOptions struct {
	CacheDir string // "" means DefaultCacheDir
	Pull     bool   // download a model missing from the cache
	// Progress receives the download's progress bar (or, when it is not a
	// terminal, a few log lines); nil is silent.
	Progress io.Writer
}

// Resolve is ResolveModelContext with the download's output sent to
// o.Progress, for callers that do not write to the process's stderr.
func Resolve(ctx context.Context, ref string, o ResolveOptions) (string, error) {
	cacheDir, pull := o.CacheDir, o.Pull
	if ref == "" {
		ref = DefaultRef
	}
	if _, err := os.Stat(ref); err == nil {
		return ref, nil
	} else if looksLikePath(ref) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", ref, pe.Err) // "x.gguf: no such file or directory"
		}
		return "", err
	}
	r, err := ParseRef(ref)
	if err != nil {
		if !strings.Contains(ref, "/") {
			// A bare name is far more likely a mistyped local directory
			// than an attempt at OWNER/REPO.
			return "", fmt.Errorf("%s: no such file or directory, nor a hub reference (OWNER/REPO[:TAG])", ref)
		}
		return "", err
	}
	custom := cacheDir != ""
	if !custom {
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	} else if def, err := DefaultCacheDir(); err == nil && filepath.Clean(def) == filepath.Clean(cacheDir) {
		custom = false
	}
	if e, err := Lookup(cacheDir, r); err == nil {
		return e.Path, nil
	}
	if !pull {
		cmd := "smolbot pull"
		if custom {
			cmd += " --cache " + shellQuote(cacheDir)
		}
		return "", &NotCachedError{Ref: ref, CacheDir: cacheDir, Command: cmd + " " + shellQuote(ref)}
	}
	c, err := NewClient(cacheDir)
	if err != nil {
		return "", err
	}
	c.Progress = o.Progress
	e, err := c.Pull(ctx, r)
	if err != nil {
		return "", err
	}
	return e.Path, nil
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// unambiguous characters, so the suggested command can be pasted as is.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:@=+,%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// looksLikePath tells a mistyped local path from a hub reference, so that
// `-m ./modle.gguf` says "no such file" rather than "bad repository name".
func looksLikePath(s string) bool {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return false
	}
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasPrefix(s, "~") || strings.HasPrefix(s, `\`) || filepath.VolumeName(s) != "" ||
		!strings.Contains(s, ":") && strings.HasSuffix(strings.ToLower(s), ".gguf")
}
