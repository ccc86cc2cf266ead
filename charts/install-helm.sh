#!/usr/bin/env bash
# Builds helm at the pinned version into a cache outside the work tree,
# once, and prints its path (with --cached, only if already built). The
# chart's tests run it.
set -euo pipefail
version=v4.3.1
out="${PRIMETIME_CACHE:-$HOME/.cache/primetime}/helm-$version"
if [ -x "$out/helm" ]; then
  echo "$out/helm"; exit 0
fi
[ "${1:-}" = --cached ] && exit 1  # only asked whether it is built
mkdir -p "$out"
echo "building helm $version into $out (once, a few minutes)" >&2
GOBIN="$out" GONOSUMDB=k8s.io GOFLAGS=-mod=mod go install "helm.sh/helm/v4/cmd/helm@$version" >&2
echo "$out/helm"
