# primetime — build, test and try it.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 60s

.PHONY: all build test unit vet fuzz bench demo clean

all: build

build: ## Build bin/primetime
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/primetime ./cmd/primetime

test: vet unit ## Everything CI runs

vet:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi
	$(GO) vet ./...

unit: ## Unit tests with the race detector
	$(GO) test -race -count=1 ./...

fuzz: ## Run every fuzz target for FUZZTIME (default 60s) each
	cd policies/config && $(GO) test -run '^$$' -fuzz '^FuzzParseWindows$$' -fuzztime $(FUZZTIME)
	cd policies/config && $(GO) test -run '^$$' -fuzz '^FuzzParseTargets$$' -fuzztime $(FUZZTIME)

bench: ## The benchmarks quoted in docs/performance.md
	$(GO) test -run '^$$' -bench . -benchmem ./policies/...

demo:
	@echo "make demo is not built yet: it needs the daemon (issue 4) and the local control plane harness (issue 5)."
	@echo "What works today: make build, then bin/primetime lint|plan|version (see README.md)."
	@exit 1

clean:
	rm -rf bin
