package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Suffixes of the files kept beside a cached model.
const (
	metaSuffix    = ".json"
	partialSuffix = ".partial"
)

// ErrNotCached is returned (wrapped) when a reference is not in the cache.
var ErrNotCached = errors.New("model is not in the cache")

// Entry describes a cached, verified model file: the JSON sidecar written
// beside it.
type Entry struct {
	Repo     string `json:"repo,omitempty"`
	Revision string `json:"revision,omitempty"`
	File     string `json:"file"`             // path inside the repository (or the URL's base name)
	URL      string `json:"url"`              // where it was downloaded from
	Size     int64  `json:"size"`             // bytes
	SHA256   string `json:"sha256,omitempty"` // hex; verified when the hub reported it
	ETag     string `json:"etag,omitempty"`   // the hub's ETag (LFS oid or git blob id)
	Commit   string `json:"commit,omitempty"` // X-Repo-Commit at download time
	// Downloaded is when the file was verified and moved into place.
	Downloaded time.Time `json:"downloaded"`

	// Path is the model file's absolute path (not stored).
	Path string `json:"-"`
}

// Ref returns the reference that names exactly this entry.
func (e *Entry) Ref() Ref {
	if e.Repo == "" {
		return Ref{URL: e.URL}
	}
	return Ref{Repo: e.Repo, Revision: e.Revision, File: e.File}
}

// CacheEnv names the environment variable that, when set, replaces the
// default cache directory for every command (pull, list, rm, serve, ...).
const CacheEnv = "SMOLBOT_CACHE"

// DefaultCacheDir is $SMOLBOT_CACHE when set, else
// os.UserCacheDir()/smolbot/models.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("hub: no cache directory (set --cache or $%s): %w", CacheEnv, err)
	}
	return filepath.Join(d, "smolbot", "models"), nil
}

// filePath is where the file of a resolved reference lives in the cache.
func filePath(cacheDir string, r Ref, file string) string {
	return filepath.Join(cacheDir, r.repoDir(), filepath.FromSlash(file))
}

// readEntry loads the sidecar of the model at p and checks that the model
// file is there with the recorded size.
func readEntry(p string) (*Entry, error) {
	b, err := os.ReadFile(p + metaSuffix)
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("hub: %s: %w", p+metaSuffix, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() != e.Size {
		return nil, fmt.Errorf("hub: %s has %d bytes, its record says %d", p, st.Size(), e.Size)
	}
	e.Path, _ = filepath.Abs(p)
	return &e, nil
}

func writeEntry(p string, e *Entry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + metaSuffix + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p+metaSuffix)
}

// repoEntries lists the verified entries under one repository directory.
func repoEntries(cacheDir string, r Ref) []*Entry {
	root := filepath.Join(cacheDir, r.repoDir())
	var out []*Entry
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, metaSuffix) {
			return nil
		}
		if e, err := readEntry(strings.TrimSuffix(p, metaSuffix)); err == nil {
			out = append(out, e)
		}
		return nil
	})
	return out
}

// Lookup finds a reference in the cache without the network: the exact
// file for a file or URL reference; for a tag, the cached file MatchTag
// would pick among the cached files of the repository.
func Lookup(cacheDir string, r Ref) (*Entry, error) {
	notCached := fmt.Errorf("hub: %s: %w", r, ErrNotCached)
	switch {
	case r.Repo == "":
		e, err := readEntry(filePath(cacheDir, r, r.urlFile()))
		if err != nil {
			return nil, notCached
		}
		return e, nil
	case r.File != "":
		e, err := readEntry(filePath(cacheDir, r, r.File))
		if err != nil || e.Revision != r.revision() {
			return nil, notCached
		}
		return e, nil
	}
	var files []string
	byFile := map[string]*Entry{}
	for _, e := range repoEntries(cacheDir, r) {
		if e.Revision == r.revision() {
			files = append(files, e.File)
			byFile[e.File] = e
		}
	}
	f, err := MatchTag(files, r.tag())
	if err != nil {
		return nil, notCached
	}
	return byFile[f], nil
}

// List returns every verified model in the cache, sorted by reference.
func List(cacheDir string) ([]*Entry, error) {
	ds, err := os.ReadDir(cacheDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	var out []*Entry
	for _, d := range ds {
		if !d.IsDir() {
			continue
		}
		root := filepath.Join(cacheDir, d.Name())
		filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() || !strings.HasSuffix(p, metaSuffix) {
				return nil
			}
			if e, err := readEntry(strings.TrimSuffix(p, metaSuffix)); err == nil {
				out = append(out, e)
			}
			return nil
		})
	}
	slices.SortFunc(out, func(a, b *Entry) int { return strings.Compare(a.Ref().String(), b.Ref().String()) })
	return out, nil
}

// Remove deletes the cached files a reference names, with their records
// and partial downloads, and returns the paths of the removed models. A
// repository reference without a tag or file removes every file of the
// repository. Removing something absent is an ErrNotCached error.
func Remove(cacheDir string, r Ref) ([]string, error) {
	var targets []string
	switch {
	case r.Repo != "" && r.File == "" && r.Tag == "":
		for _, e := range repoEntries(cacheDir, r) {
			targets = append(targets, e.Path)
		}
		// Interrupted downloads too.
		filepath.WalkDir(filepath.Join(cacheDir, r.repoDir()), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, partialSuffix) {
				targets = append(targets, strings.TrimSuffix(p, partialSuffix))
			}
			return nil
		})
	default:
		if e, err := Lookup(cacheDir, r); err == nil {
			targets = append(targets, e.Path)
		} else {
			var p string
			switch {
			case r.Repo == "":
				p = filePath(cacheDir, r, r.urlFile())
			case r.File != "":
				p = filePath(cacheDir, r, r.File)
			}
			if p != "" {
				if _, err := os.Stat(p + partialSuffix); err == nil {
					targets = append(targets, p)
				}
			}
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("hub: %s: %w", r, ErrNotCached)
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	var removed []string
	for _, p := range targets {
		for _, q := range []string{p + metaSuffix, p, p + partialSuffix} {
			if err := os.Remove(q); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, fmt.Errorf("hub: %w", err)
			}
		}
		removed = append(removed, p)
		// Drop directories left empty, up to the cache root.
		root := filepath.Clean(cacheDir)
		for d := filepath.Dir(p); len(d) > len(root) && strings.HasPrefix(d, root); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	return removed, nil
}
