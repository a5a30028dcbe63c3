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
	$(WITH_ENV) $(GO) vet ./...
	@# Benchmarks once each (so they never rot), before the real tests so
	@# that go test's closing lines are those of the test run.
	$(WITH_ENV) $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./...
	$(MAKE) fuzz
	$(WITH_ENV) $(GO) test -count=1 -p 2 -timeout 15m ./...

# Each fuzz target of the protocol endpoints for FUZZTIME (go test -fuzz
# takes one target per run). Their seed corpora also run in `go test`.
FUZZTIME ?= 10s
FUZZ_TARGETS := FuzzTokenEndpoint FuzzRevocationEndpoint FuzzIntrospectionEndpoint FuzzAuthorizationEndpoint
fuzz:
	for f in $(FUZZ_TARGETS); do \
		$(WITH_ENV) $(GO) test -count=1 -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./cmd/authd/ || exit 1; \
	done

bench:
	$(SERVICES) up
	$(WITH_ENV) $(GO) run ./bench

fmt:
	$(GO) fmt ./...

clean:
	rm -rf bin
