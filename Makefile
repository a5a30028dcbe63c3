# authd developer targets. Services (Redis 127.0.0.1:6390, Postgres
# 127.0.0.1:5440, data in $(AUTHD_DATA_DIR) or .data) are managed by
# scripts/services.sh; see `scripts/services.sh help`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Fresh machines have Go at /usr/local/go but not always on PATH.
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif

GO ?= go
SERVICES := bash scripts/services.sh
# Run a command with the service URLs (AUTHD_*_URL) exported.
WITH_ENV := eval "$$($(SERVICES) env)" &&

.PHONY: all build run services services-down test bench fmt clean fuzz

all: build

build:
	$(GO) build -o bin/authd ./cmd/authd

run:
	bash scripts/run.sh

services:
	$(SERVICES) up

services-down:
	$(SERVICES) down

test:
	$(SERVICES) up
	$(SERVICES) cluster-up
	$(SERVICES) browser
	$(SERVICES) node
	$(WITH_ENV) $(GO) vet ./...
	@# Benchmarks once each (so they never rot), before the real tests so
	@# that go test's closing lines are those of the test run.
	$(WITH_ENV) $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./...
	$(MAKE) fuzz
	$(WITH_ENV) $(GO) test -count=1 -p 2 -timeout 15m ./...

# Each fuzz target (package:target:executions); go test -fuzz takes one
# target per run. Their seed corpora also run in `go test`. The runs are
# counted in executions, not seconds: Go 1.26's fuzz coordinator can fail a
# duration run (-fuzztime 10s) with "context deadline exceeded" and no
# crasher when the deadline races a busy worker (golang/go#75804, fixed in
# Go 1.27); a count has no deadline. FUZZTIME=60s (or 100000x) overrides
# every target's budget for a longer local run.
FUZZ_TARGETS := \
	cmd/authd:FuzzTokenEndpoint:3000 \
	cmd/authd:FuzzRevocationEndpoint:3000 \
	cmd/authd:FuzzIntrospectionEndpoint:10000 \
	cmd/authd:FuzzAuthorizationEndpoint:10000 \
	storage/fositestore:FuzzDecodeStoredRequest:50000 \
	token:FuzzTokenSignature:50000 \
	oauth:FuzzSessionJSON:50000
fuzz:
	for spec in $(FUZZ_TARGETS); do \
		IFS=: read -r pkg f n <<< "$$spec"; \
		$(WITH_ENV) $(GO) test -count=1 -run '^$$' -fuzz "^$$f\$$" -fuzztime "$(if $(FUZZTIME),$(FUZZTIME),$${n}x)" "./$$pkg/" || exit 1; \
	done

bench:
	$(SERVICES) up
	$(WITH_ENV) $(GO) run ./bench

fmt:
	$(GO) fmt ./...

clean:
	rm -rf bin
