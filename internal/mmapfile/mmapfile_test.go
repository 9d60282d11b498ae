package mmapfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestMap(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("smolbot"), 1000)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	b, release, err := Map(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatal("mapped bytes differ from the file")
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if b, release, err := Map(empty); err != nil || len(b) != 0 {
		t.Fatalf("empty file: %v, %d bytes", err, len(b))
	} else {
		release()
	}
	if _, _, err := Map(dir); err == nil {
		t.Fatal("mapping a directory succeeded")
	}
	if _, _, err := Map(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("mapping a missing file succeeded")
	}
}
