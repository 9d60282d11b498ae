package hub

import (
	"errors"
	"strings"
	"testing"
)

// TestCacheEnv: $SMOLBOT_CACHE is the default cache, so the hint needs no
// --cache; a bare name that is neither a path nor OWNER/REPO says so.
func TestCacheEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(CacheEnv, dir)
	if d, err := DefaultCacheDir(); err != nil || d != dir {
		t.Fatalf("DefaultCacheDir = %q, %v", d, err)
	}
	_, err := ResolveModel("", "", false)
	var nc *NotCachedError
	if !errors.As(err, &nc) || nc.CacheDir != dir || nc.Command != "smolbot pull "+DefaultRef {
		t.Fatalf("err = %v", err)
	}
	_, err = ResolveModel("SmolLM3-3B", "", false)
	if err == nil || !strings.Contains(err.Error(), "SmolLM3-3B: no such file or directory") {
		t.Errorf("bare name: %v", err)
	}
	_, err = ResolveModel("./m.gguf", "", false)
	if err == nil || err.Error() != "./m.gguf: no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
}
