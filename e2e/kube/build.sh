#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager (and kubectl) at the
# version pinned in go.mod into a cache outside the work tree, once.
# Prints the directory holding the binaries.
set -euo pipefail
cd "$(dirname "$0")"
version=$(awk '/^require k8s.io\/kubernetes/ {print $3}' go.mod)
out="${PRIMETIME_CACHE:-$HOME/.cache/primetime}/kube-$version"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -x "$out/kubectl" ]; then
  echo "$out"; exit 0
fi
mkdir -p "$out"
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
export GONOSUMDB=k8s.io GOFLAGS=-mod=mod CGO_ENABLED=0
echo "building Kubernetes $version commands into $out (about 4 minutes the first time)" >&2
go mod tidy >&2 2>&1 || true
for cmd in kube-apiserver kube-controller-manager kubectl; do
  go build -trimpath -ldflags "$ldflags" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
  mv "$out/$cmd.tmp" "$out/$cmd"
done
echo "$out"
