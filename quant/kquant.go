package quant

import "math"

// Shared pieces of the K-quant formats (spec §4.4–4.7) and of ggml's
// reference quantization searches.
//
// Float evaluation order: the searches below are sensitive to the last bit
// (a different rounding can flip a comparison and choose other quants), so
// every expression is evaluated in float32 in the same order as ggml's C, and
// every product that feeds a sum is wrapped in an explicit float32(...)
// conversion. The Go spec lets the compiler fuse x*y+z into an FMA (it does
// on arm64, and on amd64 with GOAMD64=v3); an explicit conversion forbids it.
// ggml's reference routines live in ggml-base, which is built for the
// baseline ISA, so they round every product too. With this, QuantizeRow
// reproduces llama-quantize's K-quant blocks bit for bit on the fixtures.

// groupMaxEps is ggml's GROUP_MAX_EPS: a group whose largest magnitude is
// below it is treated as all zero.
const groupMaxEps = 1e-15

// nearestInt is ggml's nearest_int: adding 1.5·2²³ in float32 leaves
// round-half-to-even(f) in the low mantissa bits. It is exact for
// |f| ≤ 4194303; beyond that it returns the same garbage as ggml (NaN gives
// 0, ±inf gives −4194304) rather than panicking.
func nearestInt(f float32) int32 {
	// float32(f) stops an inlined caller's product from fusing with the add.
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x7fffff) - 0x400000
}

// clampInt32 limits v to [lo, hi].
func clampInt32(v, lo, hi int32) int32 {
	return max(lo, min(hi, v))
}

// sqrt32 is C's sqrtf: the float64 square root rounded to float32 is the
// correctly rounded float32 square root.
func sqrt32(v float32) float32 { return float32(math.Sqrt(float64(v))) }

// ScaleMinK4 unpacks the 6-bit scale and min of sub-block j (0..7) from the
// 12-byte scales field of a Q4_K or Q5_K block (ggml's get_scale_min_k4,
// spec §4.4). scales must have at least 12 bytes and j must be in 0..7.
func ScaleMinK4(j int, scales []byte) (sc, m uint8) {
	if j < 4 {
		return scales[j] & 63, scales[j+4] & 63
	}
	sc = scales[j+4]&0x0f | (scales[j-4]>>6)<<4
	m = scales[j+4]>>4 | (scales[j]>>6)<<4
	return sc, m
}

// packScaleMinK4 stores eight 6-bit scales and mins into a 12-byte scales
// field, the inverse of ScaleMinK4.
func packScaleMinK4(ls, lm *[8]uint8, scales []byte) {
	scales = scales[:12]
	for j := range 4 {
		scales[j] = ls[j] | (ls[j+4]>>4)<<6
		scales[j+4] = lm[j] | (lm[j+4]>>4)<<6
		scales[j+8] = ls[j+4]&0x0f | (lm[j+4]&0x0f)<<4
	}
}

// makeQKX2Quants is ggml's make_qkx2_quants with use_mad = false: it fits
// x ≈ scale·L − theMin, L ∈ [0, nmax], with weights w, trying nstep+1
// inverse scales (rmin + rdelta·is + nmax)/(max − min) and keeping the
// weighted least-squares refit with the smallest weighted squared error. L
// receives the chosen quants; laux is scratch of len(x).
func makeQKX2Quants(nmax int32, x, w []float32, L, laux []uint8, rmin, rdelta float32, nstep int) (scale, theMin float32) {
	n := len(x)
	w, L, laux = w[:n], L[:n], laux[:n]
	mn, mx := x[0], x[0]
	sumW := w[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < mn {
			mn = x[i]
		}
		if x[i] > mx {
			mx = x[i]
		}
		sumW += w[i]
		sumX += float32(w[i] * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		clear(L)
		return 0, -mn
	}
	fmax := float32(nmax)
	iscale := fmax / (mx - mn)
	scale = 1 / iscale
	var bestErr float32
	for i, v := range x {
		l := clampInt32(nearestInt(float32(iscale*(v-mn))), 0, nmax)
		L[i] = uint8(l)
		diff := float32(scale*float32(l)) + mn - v
		bestErr += float32(w[i] * float32(diff*diff))
	}
	if nstep < 1 {
		return scale, -mn
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fmax) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clampInt32(nearestInt(float32(iscale*(v-mn))), 0, nmax)
			laux[i] = uint8(l)
			fl := float32(l)
			wl := float32(w[i] * fl)
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * v)
		}
		det := float32(sumW*sumL2) - float32(sumL*sumL)
		if det > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / det
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / det
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curErr float32
			for i, v := range x {
				diff := float32(thisScale*float32(laux[i])) + thisMin - v
				curErr += float32(w[i] * float32(diff*diff))
			}
			if curErr < bestErr {
				copy(L, laux)
				bestErr = curErr
				scale = thisScale
				mn = thisMin
			}
		}
	}
	return scale, -mn
}

// makeQXQuants is ggml's make_qx_quants with rmse_type = 1 and no importance
// weights (weights x²), as quantize_row_q6_K_ref uses it: symmetric quants
// L = l + nmax with l ∈ [−nmax, nmax−1], starting from iscale = −nmax/max
// (max the signed value of largest magnitude) and trying the 18 inverse
// scales −(nmax + 0.1·is)/max, is = ±1..±9, keeping the least-squares scale
// that maximises sumlx²/suml2. It returns the scale (0 for an all-zero
// group).
func makeQXQuants(nmax int32, x []float32, L []uint8) float32 {
	L = L[:len(x)]
	var mx, amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	fmax := float32(nmax)
	iscale := -fmax / mx
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampInt32(nearestInt(float32(iscale*v)), -nmax, nmax-1)
		L[i] = uint8(l + nmax)
		w := float32(v * v)
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := float32(scale * sumlx)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fmax + float32(float32(0.1)*float32(is))) / mx
		sumlx, suml2 = 0, 0
		for _, v := range x {
			l := clampInt32(nearestInt(float32(iscale*v)), -nmax, nmax-1)
			w := float32(v * v)
			fl := float32(l)
			sumlx += float32(float32(w*v) * fl)
			suml2 += float32(float32(w*fl) * fl)
		}
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i, v := range x {
				l := clampInt32(nearestInt(float32(iscale*v)), -nmax, nmax-1)
				L[i] = uint8(nmax + l)
			}
			scale = sumlx / suml2
			best = float32(scale * sumlx)
		}
	}
	return scale
}

// quantizeScaleMinK4 is the part shared by quantize_row_q4_K_ref and
// quantize_row_q5_K_ref: for each of the 8 sub-blocks of 32 it picks a
// scale and min with makeQKX2Quants (weights av_x + |x|, av_x the RMS of the
// sub-block), quantizes them to 6 bits against the super-block maxima,
// writes d, dmin and the packed scales into blk[0:16], and re-quantizes the
// elements against the rounded scales into L (q ∈ [0, nmax]).
func quantizeScaleMinK4(x []float32, blk []byte, L *[QK_K]uint8, nmax int32, rmin, rdelta float32, nstep int) {
	x = x[:QK_K]
	var laux [32]uint8
	var weights [32]float32
	var scales, mins [8]float32
	var maxScale, maxMin float32
	for j := range 8 {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := sqrt32(sumX2 / 32)
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(nmax, xs, weights[:], L[32*j:32*j+32], laux[:], rmin, rdelta, nstep)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	var ls, lm [8]uint8
	for j := range 8 {
		// ggml stores nearest_int into a uint8 (keeping the low byte)
		// before clamping to 63.
		ls[j] = min(63, uint8(nearestInt(float32(invScale*scales[j]))))
		lm[j] = min(63, uint8(nearestInt(float32(invMin*mins[j]))))
	}
	d := F32ToF16(maxScale / 63)
	dmin := F32ToF16(maxMin / 63)
	blk[0], blk[1] = byte(d), byte(d>>8)
	blk[2], blk[3] = byte(dmin), byte(dmin>>8)
	packScaleMinK4(&ls, &lm, blk[4:16])

	df, dminf := F16ToF32(d), F16ToF32(dmin)
	for j := range 8 {
		dj := df * float32(ls[j])
		if dj == 0 {
			continue // keep the search's quants, as ggml does
		}
		dm := float32(dminf * float32(lm[j]))
		for ii, v := range x[32*j : 32*j+32] {
			L[32*j+ii] = uint8(clampInt32(nearestInt((v+dm)/dj), 0, nmax))
		}
	}
}
