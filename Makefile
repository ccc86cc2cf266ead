# primetime — build, test and try it.
SHELL := /bin/bash
comma := ,
GO ?= go
# One version for the binary, the image's tag and the chart's version and
# appVersion: the git tag (v0.1.0 -> 0.1.0), or make release VERSION=x.y.z.
# Each is read once (:=), so that one make run stamps one version even if
# the work tree changes meanwhile.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell bash release/version.sh)
endif
ifeq ($(origin COMMIT),undefined)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
endif
ifeq ($(origin DATE),undefined)
DATE := $(shell git log -1 --format=%cI 2>/dev/null)
endif
BUILDINFO := github.com/primetime-dev/primetime/ground/buildinfo
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)
FUZZTIME ?= 60s
DIST ?= dist
PLATFORMS ?= linux/amd64,linux/arm64
MKRELEASE := $(GO) run ./release/mkrelease
ACTIONLINT := $(GO) run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

.PHONY: all build deps e2e-deps kube test unit e2e vet lint-workflows fuzz bench traces demo demo-live image image-reproducible chart release clean

all: build

build: ## Build bin/primetime
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/primetime ./cmd/primetime

test: deps e2e-deps vet lint-workflows image-reproducible chart unit fuzz ## Everything CI runs: unit, integration and real-cluster tests (the image's among them), each fuzz target for FUZZTIME

image: ## The OCI image for PLATFORMS from the Go toolchain alone: $(DIST)/image (OCI layout), $(DIST)/primetime-VERSION.oci.tar, the static binaries
	$(MKRELEASE) image --version "$(VERSION)" --commit "$(COMMIT)" --date "$(DATE)" --platforms "$(PLATFORMS)" --out "$(DIST)"

image-reproducible: image ## make image a second time: the same digests for every platform, the same archive
	$(MKRELEASE) image --version "$(VERSION)" --commit "$(COMMIT)" --date "$(DATE)" --platforms "$(PLATFORMS)" --out "$(DIST)/again" >/dev/null
	cmp "$(DIST)/primetime-$(VERSION).digests" "$(DIST)/again/primetime-$(VERSION).digests"
	cmp "$(DIST)/primetime-$(VERSION).oci.tar" "$(DIST)/again/primetime-$(VERSION).oci.tar"
	@rm -rf "$(DIST)/again"; echo "image-reproducible: the same digests twice:"; cat "$(DIST)/primetime-$(VERSION).digests"

chart: ## The chart, linted against its schema and packaged with VERSION as version and appVersion: $(DIST)/primetime-VERSION.tgz
	helm=$$(bash charts/install-helm.sh) && "$$helm" lint --strict charts/primetime && \
	  "$$helm" package charts/primetime --version "$(VERSION)" --app-version "$(VERSION)" --destination "$(DIST)"

release: ## make release VERSION=x.y.z: the image, the chart, the binaries, SHA256SUMS and the release notes (from CHANGELOG.md) under $(DIST)
	@[[ "$(VERSION)" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$$ ]] || { echo "release: want make release VERSION=x.y.z, got '$(VERSION)'" >&2; exit 2; }
	@[ -z "$$(git status --porcelain)" ] || { echo "release: the work tree has uncommitted or untracked files" >&2; exit 2; }
	@$(MKRELEASE) notes --version "$(VERSION)" CHANGELOG.md >/dev/null
	rm -rf "$(DIST)"
	$(MAKE) --no-print-directory image chart VERSION="$(VERSION)"
	$(MKRELEASE) notes --version "$(VERSION)" CHANGELOG.md > "$(DIST)/RELEASE_NOTES.md"
	$(MKRELEASE) checksums --dir "$(DIST)" $(foreach p,$(subst $(comma), ,$(PLATFORMS)),primetime-$(VERSION)-$(subst /,-,$(p))) primetime-$(VERSION).oci.tar primetime-$(VERSION).tgz
	@echo "release $(VERSION):"; ls -l "$(DIST)"

lint-workflows: ## actionlint on .github/workflows
	$(ACTIONLINT) -no-color

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
	PRIMETIME_REQUIRE_INTEGRATION=1 PRIMETIME_DIST="$(abspath $(DIST))" PRIMETIME_VERSION="$(VERSION)" $(GO) test -race -count=1 -timeout 40m -parallel $(E2E_PARALLEL) -v ./e2e/

e2e: deps e2e-deps image chart ## Only the real-cluster tests
	PRIMETIME_REQUIRE_INTEGRATION=1 PRIMETIME_DIST="$(abspath $(DIST))" PRIMETIME_VERSION="$(VERSION)" $(GO) test -count=1 -timeout 40m -parallel $(E2E_PARALLEL) -v ./e2e/...

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
	for k in tv-spot newsletter organic-week demo-spot late-spots missed-spots two-wave-spots shape-change-spots; do bin/primetime simulate --generate $$k --seed 1 --out docs/traces/$$k; done

demo: ## A TV spot replayed by primetime simulate (seconds), then live on a local control plane (Ctrl-C stops and cleans up)
	@GO=$(GO) bash e2e/demo/simulated.sh
	@$(MAKE) --no-print-directory demo-live

demo-live: deps kube ## Only the live part of make demo
	$(GO) build -o bin/primetime-demo ./e2e/demo
	bin/primetime-demo $(DEMO_FLAGS)

clean:
	rm -rf bin "$(DIST)"
