package hf_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/hf/hftest"
)

// TestOpenVocabPath: the tensor-less GGUF of a directory holds the same
// tokenizer metadata as the full one.
func TestOpenVocabPath(t *testing.T) {
	dir := t.TempDir()
	if _, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 5}); err != nil {
		t.Fatal(err)
	}
	full, err := hf.OpenPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	voc, err := hf.OpenVocabPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer voc.Close()
	if len(voc.File.Tensors) != 0 {
		t.Errorf("%d tensors", len(voc.File.Tensors))
	}
	n := 0
	for _, kv := range full.File.KV {
		if !strings.HasPrefix(kv.Key, "tokenizer.") {
			continue
		}
		n++
		v, ok := voc.File.Get(kv.Key)
		if !ok {
			t.Errorf("%s missing", kv.Key)
			continue
		}
		a, b := kv.Value.Any(), v.Any()
		if arr, ok := a.(gguf.Array); ok {
			a, b = arr.Data(), b.(gguf.Array).Data()
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs", kv.Key)
		}
	}
	if n < 5 {
		t.Errorf("only %d tokenizer keys", n)
	}
	if _, err := hf.OpenVocabPath(t.TempDir()); err == nil {
		t.Error("empty directory opened")
	}
}
