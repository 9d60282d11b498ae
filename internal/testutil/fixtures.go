// Package testutil helps tests find the shared llama.cpp reference fixtures
// and compare numbers with tolerances.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// FixturesDir returns the directory of the shared reference fixtures:
// $SMOLBOT_FIXTURES if set, else ../shared/fixtures relative to the
// repository root. It returns "" if neither exists.
func FixturesDir() string {
	if d := os.Getenv("SMOLBOT_FIXTURES"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		return ""
	}
	d := filepath.Join(RepoRoot(), "..", "shared", "fixtures")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// RepoRoot is the root of the smolbot module (found from this file's path).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Fixture returns the path of a file under the fixtures directory, skipping
// the test with a clear message if the fixtures are absent. In CI
// (CI=true) a missing fixtures directory fails the test instead: CI always
// has it, so absence there is a setup bug that must not pass silently.
func Fixture(t testing.TB, rel ...string) string {
	t.Helper()
	dir := FixturesDir()
	if dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixtures not found: set SMOLBOT_FIXTURES or provide ../shared/fixtures")
		}
		t.Skip("fixtures not found: set SMOLBOT_FIXTURES or provide ../shared/fixtures (skipping)")
	}
	p := filepath.Join(append([]string{dir}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", p, err)
	}
	return p
}
