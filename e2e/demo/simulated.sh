#!/usr/bin/env bash
# make demo, part 1: the demo's TV spot replayed by `primetime simulate`
# (the same engine as the daemon, an HPA model and pod start-up) in a few
# seconds, before the live demo on a real control plane. It builds the
# lean primetime (-tags simulateonly: no daemon), so that it shows within
# a minute on a machine where nothing is built yet.
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
began=$SECONDS
echo "primetime demo, part 1 of 2: the TV spot replayed by primetime simulate"
echo "  (storefront/web: 42 req/s, 10 per replica; a spot at 4x for a minute, announced with a 75 s lead time;"
echo "   pods take 20 s to start; Prometheus sees the load 15 s late; the HPA syncs every 15 s)"
"$GO" build -tags simulateonly -o bin/primetime-sim ./cmd/primetime
# docs/traces/demo-spot.*: written by primetime simulate --generate demo-spot (make traces).
bin/primetime-sim simulate --trace docs/traces/demo-spot.csv --targets docs/traces/demo-spot.targets.yaml --windows docs/traces/demo-spot.windows.yaml \
  --startup 20s --metric-delay 15s --hpa-sync 15s --interval 5s --strategy primetime --strategy reactive --timeline 10s
echo
echo "(simulated in $((SECONDS - began)) s, build included)"
echo
echo "primetime demo, part 2 of 2: the same spot on a real Kubernetes control plane on loopback"
if kube=$(bash e2e/kube/build.sh --cached 2>/dev/null); then
  echo "  Kubernetes is built ($kube): starting it"
else
  echo "  Kubernetes (kube-apiserver, kube-controller-manager, kubectl) is not built on this machine yet."
  echo "  It is built once from the k8s.io/kubernetes module: about 17 minutes on 2 cores (progress every 30 s),"
  echo "  then cached in ${PRIMETIME_CACHE:-$HOME/.cache/primetime}; every later make demo starts in seconds."
fi
