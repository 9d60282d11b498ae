#!/usr/bin/env bash
# Runs smolbot's whole test suite on a fresh Debian/Ubuntu machine:
# installs what the tests need (Debian's chromium for the browser tests),
# then checks formatting, vets, and runs the tests in both builds
# (default with assembly kernels, and -tags purego).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
if ((${#need_pkgs[@]})); then
  echo "== installing ${need_pkgs[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...
go vet -tags purego ./...

echo "== go test (default build: assembly kernels)"
go test -count=1 -timeout 20m ./...

echo "== go test -tags purego (pure-Go kernels)"
go test -count=1 -timeout 20m -tags purego ./...

echo "== go test -race (concurrent packages: pool, engine scheduler, server, store)"
go test -count=1 -timeout 20m -race ./kernels/ ./engine/ ./sched/ ./server/... ./store/...

echo "== all tests passed"
