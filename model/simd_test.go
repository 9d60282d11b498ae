//go:build !purego

package model_test

// decodePositions bounds the token-by-token check: every position.
const decodePositions = 1 << 30
