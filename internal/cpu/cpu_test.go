package cpu

import "testing"

func TestLevelOrder(t *testing.T) {
	if !(Generic < AVX2 && AVX2 < AVX512) {
		t.Fatal("levels out of order")
	}
	for _, l := range []Level{Generic, AVX2, AVX512} {
		got, ok := ParseLevel(l.String())
		if !ok || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l.String(), got, ok)
		}
	}
	if _, ok := ParseLevel("sse9"); ok {
		t.Error("ParseLevel accepted an unknown name")
	}
}

func TestLevelOf(t *testing.T) {
	avx2 := Features{AVX2: true, FMA: true, F16C: true, BMI2: true}
	if got := levelOf(avx2); got != AVX2 {
		t.Errorf("avx2 features: %v", got)
	}
	noFMA := avx2
	noFMA.FMA = false
	if got := levelOf(noFMA); got != Generic {
		t.Errorf("no FMA: %v", got)
	}
	full := avx2
	full.AVX512F, full.AVX512BW, full.AVX512VL, full.AVX512DQ, full.AVX512VNNI = true, true, true, true, true
	if got := levelOf(full); got != AVX512 {
		t.Errorf("avx512 features: %v", got)
	}
	full.AVX512VNNI = false
	if got := levelOf(full); got != AVX2 {
		t.Errorf("avx512 without VNNI: %v", got)
	}
}

func TestForce(t *testing.T) {
	t.Logf("hardware %v, best %v, features %+v", Hardware(), Best(), Detected())
	var seen []Level
	OnChange(func(l Level) { seen = append(seen, l) })
	before := Best()
	restore := Force(Generic)
	if Best() != Generic {
		t.Fatalf("Force(Generic): Best() = %v", Best())
	}
	inner := Force(AVX512)
	if Best() != min(AVX512, Hardware()) {
		t.Fatalf("Force(AVX512) on %v hardware: Best() = %v", Hardware(), Best())
	}
	inner()
	if Best() != Generic {
		t.Fatalf("inner restore: Best() = %v", Best())
	}
	restore()
	if Best() != before {
		t.Fatalf("restore: Best() = %v, want %v", Best(), before)
	}
	if len(seen) != 5 || seen[0] != before || seen[1] != Generic || seen[4] != before {
		t.Fatalf("listener saw %v", seen)
	}
}
