package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf/hftest"
	"github.com/smolbot/smolbot/internal/testutil"
)

func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestConvertMatchesLlamaQuantize exports the F32 fixture to an HF
// directory and converts it to each type: the tensors must be the ones
// llama-quantize made from the same F32 file (types and bytes), and the
// metadata the same.
func TestConvertMatchesLlamaQuantize(t *testing.T) {
	src, err := gguf.Open(testutil.Fixture(t, "tiny-smollm3", "f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := filepath.Join(t.TempDir(), "tiny-smollm3-fixture")
	if err := hftest.Export(src, dir, hftest.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"} {
		t.Run(typ, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), typ+".gguf")
			stdout, stderr, code := cli(t, "convert", "--quiet", "--type", typ, dir, out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "wrote "+out) || !strings.Contains(stdout, strings.ToUpper(typ)) {
				t.Errorf("stdout %q", stdout)
			}
			got, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			want, err := gguf.Open(testutil.Fixture(t, "tiny-smollm3", typ+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			for _, kv := range want.KV {
				v, ok := got.Get(kv.Key)
				if !ok {
					t.Errorf("key %s missing", kv.Key)
					continue
				}
				a, b := kv.Value.Any(), v.Any()
				if arr, ok := a.(gguf.Array); ok {
					a, b = arr.Data(), b.(gguf.Array).Data()
				}
				if !reflect.DeepEqual(a, b) {
					t.Errorf("key %s = %v, want %v", kv.Key, v, kv.Value)
				}
			}
			if len(got.KV) != len(want.KV) {
				t.Errorf("%d keys, want %d", len(got.KV), len(want.KV))
			}
			for i := range want.Tensors {
				wt := &want.Tensors[i]
				gt, ok := got.Tensor(wt.Name)
				if !ok {
					t.Errorf("tensor %s missing", wt.Name)
					continue
				}
				if gt.Type != wt.Type || !reflect.DeepEqual(gt.Dims, wt.Dims) {
					t.Errorf("%s: %v %v, want %v %v", wt.Name, gt.Type, gt.Dims, wt.Type, wt.Dims)
					continue
				}
				a, _ := got.TensorData(gt)
				b, _ := want.TensorData(wt)
				if !bytes.Equal(a, b) {
					t.Errorf("%s (%v): bytes differ from llama-quantize's", wt.Name, wt.Type)
				}
			}
		})
	}
}

func TestConvertUsage(t *testing.T) {
	dir := t.TempDir()
	if _, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"convert"}, {"convert", dir}, {"convert", "--type", "q3_k", dir, "x.gguf"}, {"convert", filepath.Join(dir, "config.json"), "x.gguf"}} {
		if _, stderr, code := cli(t, args...); code != 2 || !strings.Contains(stderr, "usage") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "m.gguf")
	if _, stderr, code := cli(t, "convert", dir, out, "--quiet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "tokenizer.json"))
	if _, stderr, code := cli(t, "convert", "--quiet", dir, filepath.Join(t.TempDir(), "n.gguf")); code != 1 || !strings.Contains(stderr, "tokenizer.json") {
		t.Errorf("missing tokenizer: exit %d, %q", code, stderr)
	}
}
