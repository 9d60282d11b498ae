package server

import (
	"context"
	"time"

	"github.com/smolbot/smolbot/chat"
)

// Model is the loaded model as the server uses it: prompt rendering and
// tokenization, sequences (KV caches), and generation. FromEngine adapts the
// engine to it; the server never sees engine types, so this file is the
// whole contract between the two.
type Model interface {
	// Info describes the model.
	Info() ModelInfo
	// Template renders conversations into prompts.
	Template() *chat.Template
	// Tokenize encodes a rendered prompt, control tokens included, with a
	// BOS token if the model wants one.
	Tokenize(prompt string) ([]int32, error)
	// NewSequence makes an empty sequence with room for nCtx tokens.
	NewSequence(nCtx int) (Sequence, error)
	// Generate continues seq with prompt (the whole conversation: the
	// engine reuses the longest prefix already in seq's KV cache and
	// processes only the rest), sampling until an end-of-generation token,
	// a stop string, MaxTokens, a full context or ctx's cancellation,
	// which it checks at every token. emit is called for each generated
	// token; an error from emit stops generation and is returned.
	Generate(ctx context.Context, seq Sequence, prompt []int32, p GenParams, emit func(Token) error) (GenResult, error)
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	// ID is the model's name in the API (GET /v1/models, "model" fields).
	ID string
	// ContextLength is the most tokens a sequence may hold.
	ContextLength int
	// Created is when the model file was written (for /v1/models).
	Created time.Time
}

// Sequence is one KV cache and the tokens in it.
type Sequence interface {
	// Tokens returns the tokens whose keys and values the cache holds.
	Tokens() []int32
	// Bytes is the memory the sequence holds now.
	Bytes() int64
	// Free releases the memory; the sequence must not be used afterwards.
	Free()
}

// GenParams are the sampling settings of one generation. Pointer fields are
// nil for "the model's default".
type GenParams struct {
	Temperature      *float64
	TopP             *float64
	TopK             *int
	MinP             *float64
	PresencePenalty  float64
	FrequencyPenalty float64
	// Seed fixes the random stream; nil draws one.
	Seed *int64
	// MaxTokens bounds the generated tokens; 0 means up to the context.
	MaxTokens int
	// Stop ends generation when the output contains one of these strings
	// (the string itself is not emitted).
	Stop []string
}

// Token is one generated token.
type Token struct {
	ID int32
	// Text is the token's text: complete UTF-8 (a character split over
	// several tokens arrives with the token that completes it), control
	// tokens such as <think> spelled out.
	Text string
}

// Stop reasons reported in GenResult.StopReason and message stats.
const (
	StopEOS       = "eos"       // end-of-generation token
	StopString    = "stop"      // a stop string
	StopLength    = "length"    // MaxTokens
	StopContext   = "context"   // the KV cache is full
	StopCancelled = "cancelled" // stop button, disconnect, shutdown
	StopError     = "error"
)

// GenResult summarizes a finished (or interrupted) generation.
type GenResult struct {
	PromptTokens int
	// CachedTokens of the prompt were already in the KV cache.
	CachedTokens int
	GenTokens    int
	StopReason   string
	// TimeToFirstToken is measured from the start of Generate.
	TimeToFirstToken time.Duration
	Duration         time.Duration
}
