# Skein. `make help` lists the targets.
SHELL := bash
GO ?= go

BIN := bin/skein
# Extra flags for go test, e.g. make test TESTFLAGS='-run Conformance -v'
TESTFLAGS ?=

.PHONY: help build run test test-short lint schema-lint generate generate-check bench bench-ingest bench-go neo4j-shell playground browser-deps discovery-deps clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: playground ## build bin/skein (with the Playground) and bin/skein-agent
	$(GO) build -o $(BIN) ./cmd/skein
	$(GO) build -o bin/skein-agent ./cmd/skein-agent

# ARGS overrides what `make run` passes to skein.
ARGS ?= serve --demo --open

run: build ## build and run the service on the embedded store with the demo estate, and open the Playground
	./$(BIN) $(ARGS)

test: playground browser-deps discovery-deps ## run every test, with a throwaway Neo4j 5.26 started and stopped around them
	tools/neo4j/with-neo4j.sh $(GO) test -count=1 $(TESTFLAGS) ./...

browser-deps: ## install Chromium (Debian's, with apt-get) for the Playground's browser test, if missing
	tools/browser/ensure-chromium.sh

discovery-deps: ## install nmap (Debian's) and ansible-core (PyPI, into .cache) for the discovery sources' tests, if missing
	tools/discovery/ensure-nmap.sh
	tools/discovery/ensure-ansible.sh >/dev/null

test-short: ## run the tests without Neo4j (its tests skip)
	$(GO) test -count=1 $(TESTFLAGS) ./...

schema-lint: tools/schemalint/node_modules/.package-lock.json ## lint schema/*.graphqls (graphql-schema-linter; rules in tools/schemalint)
	cd tools/schemalint && node_modules/.bin/graphql-schema-linter

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

generate: ## regenerate generated code (graph/generated, graph/model from schema/)
	$(GO) generate ./...

generate-check: generate ## fail when the committed generated code is stale
	@git diff --exit-code --stat -- graph/ || { echo "generated code is stale: run make generate and commit"; exit 1; }

bench: build ## graph benchmark, embedded store and a throwaway Neo4j side by side (CIS=50000)
	tools/neo4j/with-neo4j.sh ./$(BIN) bench graph --cis $(or $(CIS),50000)

bench-ingest: build ## discovery batches and streaming import, 1 and 16 writers, embedded and a throwaway Neo4j (CIS=100000)
	tools/neo4j/with-neo4j.sh bash -c './$(BIN) bench upsert --cis $(or $(CIS),100000) && ./$(BIN) bench import --cis $(or $(CIS),100000) --reset'

bench-go: ## go test benchmarks (with a throwaway Neo4j)
	tools/neo4j/with-neo4j.sh $(GO) test -p 1 -run '^$$' -bench . -benchmem ./...

# FUZZTIME is how long `make fuzz` runs each target. Fuzz longer with, e.g.,
# make fuzz FUZZTIME=10m, or one target alone:
#   go test -run '^$$' -fuzz '^FuzzGraphQLRequest$$' -fuzztime 1h ./cmd/skein
# A failing input is written to <pkg>/testdata/fuzz/<Target>/ and then runs
# with plain go test.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	./internal/cmdb:FuzzNormalize ./internal/cmdb:FuzzConvertValue ./internal/cmdb:FuzzUpsertItem \
	./internal/store:FuzzCursorAndIDs ./internal/store:FuzzAttributeCodec ./internal/store:FuzzParseTextQuery \
	./graph:FuzzFilter ./graph:FuzzWhere ./cmd/skein:FuzzGraphQLRequest ./internal/auth:FuzzCredentials

# A target that fails with "context deadline exceeded" and writes no input is Go's own race at
# the end of -fuzztime (golang/go#75804, fixed in Go 1.27), not a finding: it is reported and
# the other targets still run. Any other failure fails the run.
.PHONY: fuzz
fuzz: ## short fuzz runs of every target (FUZZTIME, default 10s each)
	@found=0; log=$$(mktemp); for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; dir=$$pkg/testdata/fuzz/$$name; \
		before=$$(ls "$$dir" 2>/dev/null | sort); \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg" 2>&1 | tee "$$log"; \
		if [ "$${PIPESTATUS[0]}" -ne 0 ]; then \
			if [ "$$(ls "$$dir" 2>/dev/null | sort)" = "$$before" ] && grep -q 'context deadline exceeded' "$$log"; then \
				echo "NOT A FINDING: $$name stopped on the -fuzztime deadline race (golang/go#75804) and wrote no input"; \
			else \
				echo "FINDING: $$name failed (a failing input, if any, is in $$dir)"; found=1; \
			fi; \
		fi; \
	done; rm -f "$$log"; exit $$found

neo4j-shell: ## a shell with NEO4J_URI/USER/PASSWORD set for a throwaway Neo4j
	tools/neo4j/with-neo4j.sh bash

PLAYGROUND_BUNDLE := internal/server/playground/dist/index.html
PLAYGROUND_SOURCES := $(shell find web/playground/src web/playground/public -type f 2>/dev/null) \
	web/playground/index.html web/playground/vite.config.js

playground: $(PLAYGROUND_BUNDLE) ## build the Playground bundle that internal/server embeds (needs Node 20.19+), if out of date

$(PLAYGROUND_BUNDLE): web/playground/node_modules/.package-lock.json $(PLAYGROUND_SOURCES)
	cd web/playground && npm run build

# npm ci only when package.json or package-lock.json is newer than the last install
# (npm ci writes node_modules/.package-lock.json).
%/node_modules/.package-lock.json: %/package.json %/package-lock.json
	cd $* && npm ci --no-audit --no-fund
	@touch $@

clean: ## remove build output and caches
	rm -rf bin .cache
