#!/bin/sh
# bench/run.sh — benchmark smolbot on a full-size SmolLM3-3B Q4_K_M.
#
# Builds smolbot, synthesizes the model once (random weights with the real
# shapes, tensor types and vocabulary: speed does not depend on the values)
# into a cache outside the repository, then runs `smolbot bench` on it.
#
#   bench/run.sh                     # pp512 + tg128, 2 threads, 5 reps
#   bench/run.sh --json              # one JSON object instead of the table
#   bench/run.sh -r 3 --breakdown    # any other `smolbot bench` flags
#   THREADS=1 bench/run.sh
#
# Environment: THREADS (default 2), SMOLBOT_BENCH_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/smolbot/bench), SMOLBOT_FIXTURES (default
# ../shared/fixtures next to the repository, for the vocabulary).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${SMOLBOT_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smolbot/bench}
fixtures=${SMOLBOT_FIXTURES:-$root/../shared/fixtures}
vocab=$fixtures/tokenizer/smollm3-vocab.gguf
model=$cache/smollm3-3b-q4_k_m.gguf
bin=$cache/smolbot

mkdir -p "$cache"
(cd "$root" && go build -o "$bin" ./cmd/smolbot)

if [ ! -f "$model" ]; then
	if [ ! -f "$vocab" ]; then
		echo "run.sh: vocabulary $vocab not found (set SMOLBOT_FIXTURES)" >&2
		exit 1
	fi
	echo "run.sh: synthesizing $model (once)" >&2
	tmp=$cache/.partial-smollm3-3b-q4_k_m.gguf
	rm -f "$tmp"
	"$bin" synth --arch smollm3 --preset 3b --type q4_k_m --vocab "$vocab" -o "$tmp"
	mv "$tmp" "$model"
fi

echo "run.sh: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown), $(go version | cut -d' ' -f3), $(nproc) CPUs" >&2
exec "$bin" bench -m "$model" -t "${THREADS:-2}" "$@"
