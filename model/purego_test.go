//go:build purego

package model_test

// decodePositions bounds the token-by-token check in purego builds, whose
// generic kernels make 240 single-token forwards per model slow.
const decodePositions = 48
