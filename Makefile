# primetime — build, test and try it.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 60s

.PHONY: all build deps e2e-deps kube test unit e2e vet fuzz bench traces demo demo-live clean

all: build

build: ## Build bin/primetime
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/primetime ./cmd/primetime

test: deps e2e-deps vet unit fuzz ## Everything CI runs: unit, integration and real-cluster tests, each fuzz target for FUZZTIME

# Programs the integration tests run for real, from Debian packages.
DEB_PROGRAMS := prometheus:prometheus promtool:prometheus etcd:etcd-server chromium:chromium

deps: ## Install the programs the integration tests need, when absent
	@missing=$$(for p in $(DEB_PROGRAMS); do command -v $${p%%:*} >/dev/null || echo $${p##*:}; done | sort -u); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

vet:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi
	$(GO) vet ./...

e2e-deps: ## Build kube-apiserver, kube-controller-manager, kubectl, helm and KEDA's operator and metrics server once (cached in ~/.cache/primetime)
	bash e2e/kube/build.sh
	bash charts/install-helm.sh
	bash e2e/keda/build.sh

kube: ## Build kube-apiserver, kube-controller-manager and kubectl once (all make demo needs)
	bash e2e/kube/build.sh

# The e2e scenarios share one control plane and run side by side: up to
# E2E_PARALLEL at once (most of their time is waiting for a window).
E2E_PARALLEL ?= 16

unit: ## All tests with the race detector, then the real-cluster scenarios (they need deps and e2e-deps)
	PRIMETIME_REQUIRE_INTEGRATION=1 $(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/e2e$$')
	PRIMETIME_REQUIRE_INTEGRATION=1 $(GO) test -race -count=1 -timeout 40m -parallel $(E2E_PARALLEL) -v ./e2e/

e2e: deps e2e-deps ## Only the real-cluster tests
	PRIMETIME_REQUIRE_INTEGRATION=1 $(GO) test -count=1 -timeout 40m -parallel $(E2E_PARALLEL) -v ./e2e/...

fuzz: ## Run every fuzz target for FUZZTIME (default 60s) each
	cd policies/config && $(GO) test -run '^$$' -fuzz '^FuzzParseWindows$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	cd policies/config && $(GO) test -run '^$$' -fuzz '^FuzzParseTargets$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	cd sources/scrape && $(GO) test -run '^$$' -fuzz '^FuzzCounterValue$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	cd sources/datadog && $(GO) test -run '^$$' -fuzz '^FuzzDecodeResponse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s

bench: ## The benchmarks quoted in docs/performance.md
	$(GO) test -run '^$$' -bench . -benchmem ./policies/... ./sources/...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./scaler/metricsapi/
	$(GO) test -run '^$$' -bench BenchmarkRunWeek -benchmem ./simulate/

traces: build ## Regenerate the synthetic traces of docs/performance.md (seed 1)
	for k in tv-spot newsletter organic-week demo-spot late-spots missed-spots two-wave-spots; do bin/primetime simulate --generate $$k --seed 1 --out docs/traces/$$k; done

demo: ## A TV spot replayed by primetime simulate (seconds), then live on a local control plane (Ctrl-C stops and cleans up)
	@GO=$(GO) bash e2e/demo/simulated.sh
	@$(MAKE) --no-print-directory demo-live

demo-live: deps kube ## Only the live part of make demo
	$(GO) build -o bin/primetime-demo ./e2e/demo
	bin/primetime-demo $(DEMO_FLAGS)

clean:
	rm -rf bin
