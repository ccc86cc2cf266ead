#!/usr/bin/env bash
# Builds KEDA's operator (keda) and metrics server (keda-adapter) at the
# version pinned in go.mod into a cache outside the work tree, once, and
# copies KEDA's CRDs (config/crd/bases of the same module) beside them.
# Prints the directory holding them; with --cached, only if they are
# already built (exit 1 otherwise).
set -euo pipefail
cd "$(dirname "$0")"
version=$(awk '/^require github.com\/kedacore\/keda\/v2/ {print $3}' go.mod)
out="${PRIMETIME_CACHE:-$HOME/.cache/primetime}/keda-$version"
if [ -x "$out/keda" ] && [ -x "$out/keda-adapter" ] && [ -d "$out/crd" ]; then
  echo "$out"; exit 0
fi
[ "${1:-}" = --cached ] && exit 1  # only asked whether it is built
mkdir -p "$out"
ldflags="-s -w -X github.com/kedacore/keda/v2/version.Version=${version#v}"
export GOFLAGS=-mod=mod CGO_ENABLED=0
# with_progress WHAT CMD...: runs CMD, saying every 30 s that it still runs.
with_progress() {
  local what=$1; shift
  local t0=$SECONDS last=$SECONDS
  "$@" >&2 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( SECONDS - last >= 30 )); then
      last=$SECONDS
      echo "  ... $what: $((SECONDS - t0)) s" >&2
    fi
  done
  wait "$pid"
  echo "  $what: done in $((SECONDS - t0)) s" >&2
}
echo "building KEDA $version (keda operator, keda-adapter metrics server) into $out" >&2
echo "once per machine: about 20 minutes on 2 cores with the module downloads, then cached" >&2
with_progress "downloading modules" go mod download
src=$(go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)
rm -rf "$out/crd.tmp" && mkdir -p "$out/crd.tmp"
cp "$src"/config/crd/bases/*.yaml "$out/crd.tmp/" && chmod -R u+w "$out/crd.tmp"
for cmd in operator:keda adapter:keda-adapter; do
  pkg=${cmd%%:*} bin=${cmd##*:}
  with_progress "building $bin" go build -trimpath -ldflags "$ldflags" -o "$out/$bin.tmp" "github.com/kedacore/keda/v2/cmd/$pkg"
  mv "$out/$bin.tmp" "$out/$bin"
done
rm -rf "$out/crd" && mv "$out/crd.tmp" "$out/crd"
echo "$out"
