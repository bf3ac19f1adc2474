# brink — run `make` (or `make help`) for the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
GO ?= go
BIN := bin/brink
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
PKGS := ./...
FUZZTIME ?= 10s

.PHONY: help build run test lint vet fmt bench bench-smoke bench-peer fuzz generate check-generated deps

help: ## show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the static binary into bin/brink
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/brink

run: build ## build, then serve the embedded demo flags in offline mode (prints a curl line)
	./$(BIN) offline --demo -i 127.0.0.1

deps: ## install what the tests and benchmarks need (idempotent)
	./scripts/install-test-deps.sh
	./scripts/install-sdk-deps.sh
	./scripts/install-edge-deps.sh
	./scripts/install-deploy-deps.sh

.PHONY: release
release: ## static release binaries dist/brink-linux-{amd64,arm64} and dist/sha256sums
	@rm -rf dist && mkdir -p dist
	@set -e; for arch in amd64 arm64; do \
	  echo "release: dist/brink-linux-$$arch ($(VERSION))"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=false \
	    -ldflags '$(LDFLAGS)' -o dist/brink-linux-$$arch ./cmd/brink; \
	done
	cd dist && sha256sum brink-linux-amd64 brink-linux-arm64 > sha256sums

fmt: ## check formatting
	@out=$$(gofmt -s -l $$(git ls-files '*.go' | grep -v '_bpfe[lb]\.go$$')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet $(PKGS)

lint: fmt vet ## gofmt, go vet and staticcheck (pinned in go.mod)
	$(GO) tool staticcheck $(PKGS)

test: deps lint ## install test deps, lint, run all tests with -race, smoke-run every benchmark
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)
	$(MAKE) --no-print-directory bench-smoke

bench-smoke: ## run every benchmark once
	$(GO) test -run '^$$' -bench . -benchtime=1x $(PKGS)

bench: ## run the benchmarks for real (-count=6, for benchstat)
	$(GO) test -run '^$$' -bench . -benchmem -count=6 $(PKGS) | tee bench.out

bench-peer: build ## brink vs the Node Unleash Proxy under wrk (see BENCHMARKS.md)
	BRINK_BIN=$(BIN) ./bench/compare.sh

.PHONY: bench-tls bench-relay
bench-tls: build ## brink TLS vs nginx: handshakes/s and keep-alive /api/frontend (bench/tls, ~4 min)
	BRINK_BIN=$(BIN) ./bench/tls/tls-compare.sh

bench-relay: build ## brink relay vs nginx vs direct to the upstream (bench/tls, ~2 min)
	BRINK_BIN=$(BIN) ./bench/tls/relay-compare.sh

fuzz: ## run every fuzz target briefly (FUZZTIME each, default 10s)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

generate: ## regenerate the bpf2go output (installs the pinned clang-14 first)
	./scripts/install-bpf-deps.sh
	$(GO) generate ./...

check-generated: ## regenerate and fail when generated files differ from the committed ones
	@if command -v clang-14 >/dev/null; then $(MAKE) --no-print-directory generate && git diff --exit-code; \
	else echo "check-generated: skipped, clang-14 is not installed (make generate installs it)"; fi
