#!/usr/bin/env bash
# Prints the version make stamps into the binary, the image tag and the
# chart: the newest v-tag without its v (v0.1.0 -> 0.1.0), then
# 0.1.0-3-g1a2b3c4d5e6f for commits after it, 0.0.0-dev.g1a2b3c4d5e6f
# before any tag, with -dirty when the work tree has changes.
set -u
# Untracked files count as changes: go build compiles them.
dirty=
[ -z "$(git status --porcelain 2>/dev/null)" ] || dirty=-dirty
if d=$(git describe --tags --match 'v[0-9]*' --abbrev=12 2>/dev/null); then
  echo "${d#v}$dirty"; exit 0
fi
sha=$(git rev-parse --short=12 HEAD 2>/dev/null) || { echo 0.0.0-dev; exit 0; }
echo "0.0.0-dev.g$sha$dirty"
