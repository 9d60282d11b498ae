package tensor

import (
	"fmt"
	"math"

	"github.com/smolbot/smolbot/kernels"
)

// RoPEConfig are the parameters of ggml_rope_ext in NORM (adjacent-pair)
// mode, with YaRN context extension (spec §3.3, §7.3).
type RoPEConfig struct {
	// Dims is n_rot: how many leading dimensions of each head rotate (even).
	// The remaining head dimensions pass through unchanged.
	Dims int
	// FreqBase is rope.freq_base (θ base), e.g. 5e6 for SmolLM3.
	FreqBase float32
	// FreqScale is 1/rope.scaling.factor; 1 (or 0) means no scaling.
	FreqScale float32
	// ExtFactor is YaRN's extrapolation mix: 1 for yarn scaling, 0 otherwise.
	ExtFactor float32
	// AttnFactor scales cos and sin (1 unless the file says otherwise).
	AttnFactor float32
	// BetaFast and BetaSlow bound YaRN's ramp (defaults 32 and 1).
	BetaFast, BetaSlow float32
	// OrigContext is n_ctx_orig, YaRN's original training context.
	OrigContext int
	// FreqFactors, if non-nil, divides each pair's angle (Llama-3 style
	// rope_freqs tensor); it has Dims/2 entries.
	FreqFactors []float32
}

// RoPE computes rotary position embeddings. It is immutable after NewRoPE
// and safe for concurrent use.
type RoPE struct {
	c          RoPEConfig
	thetaScale float32
	corr       [2]float32
}

// NewRoPE validates c and precomputes the frequency step and YaRN's
// correction range.
func NewRoPE(c RoPEConfig) (*RoPE, error) {
	if c.Dims <= 0 || c.Dims%2 != 0 {
		return nil, fmt.Errorf("tensor: rope dimension count %d must be positive and even", c.Dims)
	}
	if !(c.FreqBase > 0) || math.IsInf(float64(c.FreqBase), 0) {
		return nil, fmt.Errorf("tensor: rope freq_base %v must be positive and finite", c.FreqBase)
	}
	if c.FreqScale == 0 {
		c.FreqScale = 1
	}
	if !(c.FreqScale > 0) || math.IsInf(float64(c.FreqScale), 0) {
		return nil, fmt.Errorf("tensor: rope freq_scale %v must be positive and finite", c.FreqScale)
	}
	if c.AttnFactor == 0 {
		c.AttnFactor = 1
	}
	if c.BetaFast == 0 {
		c.BetaFast = 32
	}
	if c.BetaSlow == 0 {
		c.BetaSlow = 1
	}
	if c.FreqFactors != nil && len(c.FreqFactors) < c.Dims/2 {
		return nil, fmt.Errorf("tensor: rope has %d frequency factors, need %d", len(c.FreqFactors), c.Dims/2)
	}
	r := &RoPE{c: c}
	// theta_scale = powf(freq_base, -2/n_rot) in f32.
	r.thetaScale = float32(math.Pow(float64(c.FreqBase), float64(float32(-2)/float32(c.Dims))))
	if c.OrigContext > 0 {
		r.corr = yarnCorrDims(c.Dims, c.OrigContext, c.FreqBase, c.BetaFast, c.BetaSlow)
	}
	return r, nil
}

// yarnCorrDims is ggml_rope_yarn_corr_dims: the pair range over which YaRN
// blends extrapolated and interpolated angles.
func yarnCorrDims(nDims, nCtxOrig int, base, betaFast, betaSlow float32) [2]float32 {
	corr := func(nRot float32) float32 {
		return float32(nDims) * float32(math.Log(float64(float32(nCtxOrig)/(nRot*2*math.Pi)))) /
			(2 * float32(math.Log(float64(base))))
	}
	start := float32(math.Floor(float64(corr(betaFast))))
	end := float32(math.Ceil(float64(corr(betaSlow))))
	return [2]float32{max(0, start), min(float32(nDims-1), end)}
}

// Dims is the number of rotated dimensions per head (n_rot).
func (r *RoPE) Dims() int { return r.c.Dims }

// Config returns the parameters the RoPE was built with (defaults filled).
func (r *RoPE) Config() RoPEConfig { return r.c }

// CosSin fills cs[2i] = cos θ_i and cs[2i+1] = sin θ_i for the Dims/2 pairs
// at position pos. θ starts at pos and is multiplied by theta_scale in f32
// for each successive pair, as ggml's rope cache does (spec §3.3, §8.9).
// len(cs) must be at least Dims.
func (r *RoPE) CosSin(pos int, cs []float32) {
	c := &r.c
	cs = cs[:c.Dims]
	theta := float32(pos)
	mscale := c.AttnFactor
	if c.ExtFactor != 0 {
		mscale *= 1 + 0.1*float32(math.Log(float64(1/c.FreqScale)))
	}
	for i := 0; i < c.Dims/2; i++ {
		ext := theta
		if c.FreqFactors != nil {
			ext = theta / c.FreqFactors[i]
		}
		t := c.FreqScale * ext // θ_interp
		if c.ExtFactor != 0 {
			y := (float32(i) - r.corr[0]) / max(0.001, r.corr[1]-r.corr[0])
			mix := (1 - min(1, max(0, y))) * c.ExtFactor
			t = t*(1-mix) + ext*mix
		}
		// cosf/sinf as glibc computes them: llama.cpp's RoPE cache does,
		// and they are not correctly rounded.
		cs[2*i] = Cosf(t) * mscale
		cs[2*i+1] = Sinf(t) * mscale
		theta *= r.thetaScale
	}
}

// Rotate applies NORM-mode RoPE to heads consecutive vectors of headDim
// elements in x, using a table from CosSin: within each head, pair
// (2i, 2i+1) for i < len(cs)/2 is rotated by θ_i; dimensions past len(cs)
// are left unchanged.
//
// The arithmetic is that of ggml's rope as GCC compiles it (contracting
// a·b ± c·d into one fused multiply-add on the first product):
// x0' = fma(x0, c, −(x1·s)) and x1' = fma(x0, s, x1·c).
func Rotate(x []float32, heads, headDim int, cs []float32) {
	n := len(cs) &^ 1
	for h := 0; h < heads; h++ {
		v := x[h*headDim : h*headDim+n]
		// The assembly kernel (where there is one) does the same operations.
		for i := kernels.RoPEVec(v, cs[:n]); i+1 < n; i += 2 {
			c, s := cs[i], cs[i+1]
			x0, x1 := v[i], v[i+1]
			v[i] = fma32(x0, c, -float32(x1*s))
			v[i+1] = fma32(x0, s, float32(x1*c))
		}
	}
}
