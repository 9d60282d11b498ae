package sysinfo

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/internal/mmapfile"
)

const smapsSample = `7f0000000000-7f0000400000 r--s 00000000 fe:00 1234 /models/a.gguf
Size:               4096 kB
Rss:                4096 kB
FilePmdMapped:      2048 kB
AnonHugePages:         0 kB
VmFlags: rd sh mr mw me ms hg
7f0000400000-7f0000600000 r--s 00400000 fe:00 1234 /models/a.gguf
Size:               2048 kB
Rss:                1024 kB
FilePmdMapped:         0 kB
7f0000600000-7f0000800000 rw-p 00000000 00:00 0
Size:               2048 kB
Rss:                2048 kB
AnonHugePages:      2048 kB
`

func TestParseSmaps(t *testing.T) {
	for _, c := range []struct {
		lo, hi         uint64
		resident, huge int64
	}{
		{0x7f0000000000, 0x7f0000600000, 5 << 20, 2 << 20}, // both file mappings
		{0x7f0000000000, 0x7f0000400000, 4 << 20, 2 << 20}, // the first only
		{0x7f0000000000, 0x7f0000200000, 2 << 20, 1 << 20}, // half of it
		{0x7f0000600000, 0x7f0000800000, 2 << 20, 2 << 20}, // anonymous THP
		{0x1000, 0x2000, 0, 0},                             // nothing there
	} {
		r, h, err := parseSmaps(strings.NewReader(smapsSample), c.lo, c.hi)
		if err != nil || r != c.resident || h != c.huge {
			t.Errorf("[%x, %x): %d resident, %d huge, %v; want %d, %d", c.lo, c.hi, r, h, err, c.resident, c.huge)
		}
	}
	if _, _, err := parseSmaps(strings.NewReader("7f0000000000-7f0000400000 r--s 0 fe:00 1 /x\nRss: lots\n"), 0x7f0000000000, 0x7f0000400000); err == nil {
		t.Error("a malformed Rss line was accepted")
	}
}

// TestHugeMappedLive reads this process's own smaps for a mapped file: the
// resident figure must follow what was touched. Whether the kernel uses
// huge pages depends on the machine, so only consistency is checked.
func TestHugeMappedLive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	b, release, err := mmapfile.Map(p)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var s byte
	for i := 0; i < len(b); i += 4096 {
		s += b[i]
	}
	res, huge, err := HugeMapped(b)
	if runtime.GOOS != "linux" {
		if !errors.Is(err, ErrNoSmaps) {
			t.Fatalf("HugeMapped outside Linux: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if res != int64(len(b)) || huge < 0 || huge > res {
		t.Fatalf("after touching all %d bytes: resident %d, huge %d", len(b), res, huge)
	}
	t.Logf("resident %d, huge %d (byte sum %d)", res, huge, s)
}

func TestTHPMode(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never":   "always",
		"always madvise [never]":   "never",
		"":                         "",
		"always madvise never":     "",
	} {
		if got := thpMode(in); got != want {
			t.Errorf("thpMode(%q) = %q, want %q", in, got, want)
		}
	}
	if runtime.GOOS == "linux" {
		t.Logf("this machine: %q", TransparentHugePages())
	}
}
