#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager (and kubectl) at the
# version pinned in go.mod into a cache outside the work tree, once.
# Prints the directory holding the binaries; with --cached, only if they
# are already built (exit 1 otherwise).
set -euo pipefail
cd "$(dirname "$0")"
version=$(awk '/^require k8s.io\/kubernetes/ {print $3}' go.mod)
out="${PRIMETIME_CACHE:-$HOME/.cache/primetime}/kube-$version"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -x "$out/kubectl" ]; then
  echo "$out"; exit 0
fi
[ "${1:-}" = --cached ] && exit 1  # only asked whether it is built
mkdir -p "$out"
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
export GONOSUMDB=k8s.io GOFLAGS=-mod=mod CGO_ENABLED=0
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
echo "building Kubernetes $version (kube-apiserver, kube-controller-manager, kubectl) into $out" >&2
echo "once per machine: about 15 minutes on 2 cores with the module downloads, then cached" >&2
with_progress "downloading modules" go mod tidy || true
for cmd in kube-apiserver kube-controller-manager kubectl; do
  with_progress "building $cmd" go build -trimpath -ldflags "$ldflags" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$out/$cmd.tmp" "$out/$cmd"
done
echo "$out"
