package model_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

// TestMixtureMatchesLlamaQuantize predicts the type of every tensor of the
// llama-quantize fixture files from their F32 source.
func TestMixtureMatchesLlamaQuantize(t *testing.T) {
	for _, c := range []struct{ dir, typ, ft string }{
		{"tiny-smollm3", "f16", "F16"}, {"tiny-smollm3", "bf16", "BF16"},
		{"tiny-smollm3", "q8_0", "Q8_0"}, {"tiny-smollm3", "q4_0", "Q4_0"},
		{"tiny-smollm3", "q4_k_m", "Q4_K_M"}, {"tiny-smollm3", "q5_k_m", "Q5_K_M"},
		{"tiny-smollm3", "q6_k", "Q6_K"},
		{"tiny-llama", "q8_0", "Q8_0"}, {"tiny-llama", "q4_k_m", "Q4_K_M"},
	} {
		src, err := gguf.Open(testutil.Fixture(t, c.dir, "f32.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := gguf.Open(testutil.Fixture(t, c.dir, c.typ+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		ft, err := model.ParseFileType(c.ft)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(ft.ID) != dst.Uint("general.file_type", 999) {
			t.Errorf("%s: file type id %d, file says %d", c.typ, ft.ID, dst.Uint("general.file_type", 999))
		}
		var names []string
		for _, ti := range src.Tensors {
			names = append(names, ti.Name)
		}
		m := model.NewMixture(ft, names)
		for _, ti := range src.Tensors {
			got, err := m.TensorType(ti.Name, ti.Dims, ti.Type)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := dst.Tensor(ti.Name)
			if got != want.Type {
				t.Errorf("%s/%s %s: %v, llama-quantize %v", c.dir, c.typ, ti.Name, got, want.Type)
			}
		}
		src.Close()
		dst.Close()
	}
}

// TestMixture3B checks the SmolLM3-3B Q4_K_M layout of spec §10.
func TestMixture3B(t *testing.T) {
	var names []string
	var dims [][]int64
	add := func(n string, d ...int64) { names = append(names, n); dims = append(dims, d) }
	add("token_embd.weight", 2048, 128256)
	for il := range 36 {
		add(model.Blk(il, "attn_norm"), 2048)
		add(model.Blk(il, "attn_q"), 2048, 2048)
		add(model.Blk(il, "attn_k"), 2048, 512)
		add(model.Blk(il, "attn_v"), 2048, 512)
		add(model.Blk(il, "attn_output"), 2048, 2048)
		add(model.Blk(il, "ffn_norm"), 2048)
		add(model.Blk(il, "ffn_gate"), 2048, 11008)
		add(model.Blk(il, "ffn_up"), 2048, 11008)
		add(model.Blk(il, "ffn_down"), 11008, 2048)
	}
	add("output_norm.weight", 2048)
	m := model.NewMixture(model.FileTypeQ4_KM, names)
	counts := map[quant.Type]int{}
	var q6Layers []int
	for i, n := range names {
		typ, err := m.TensorType(n, dims[i], quant.F32)
		if err != nil {
			t.Fatal(err)
		}
		counts[typ]++
		var il int
		var kind string
		if typ == quant.Q6_K && n != "token_embd.weight" {
			if _, err := fmt.Sscanf(n, "blk.%d.%s", &il, &kind); err == nil && kind == "attn_v.weight" {
				q6Layers = append(q6Layers, il)
			}
		}
	}
	if counts[quant.Q4_K] != 216 || counts[quant.Q6_K] != 37 || counts[quant.F32] != 73 {
		t.Errorf("type counts %v, want 216 Q4_K, 37 Q6_K, 73 F32", counts)
	}
	want := []int{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34, 35}
	if !slices.Equal(q6Layers, want) {
		t.Errorf("Q6_K attn_v layers %v, want %v", q6Layers, want)
	}
	if _, err := model.ParseFileType("q3_k_s"); err == nil {
		t.Error("unsupported file type accepted")
	}
}
