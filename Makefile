# Skein. `make help` lists the targets.
SHELL := bash
GO ?= go

BIN := bin/skein
# Extra flags for go test, e.g. make test TESTFLAGS='-run Conformance -v'
TESTFLAGS ?=

.PHONY: help build run test test-short lint generate bench bench-go neo4j-shell playground clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

build: ## build bin/skein
	$(GO) build -o $(BIN) ./cmd/skein

run: build ## run skein (embedded store); arguments in ARGS
	./$(BIN) $(ARGS)

test: ## run every test, with a throwaway Neo4j 5.26 started and stopped around them
	tools/neo4j/with-neo4j.sh $(GO) test -count=1 $(TESTFLAGS) ./...

test-short: ## run the tests without Neo4j (its tests skip)
	$(GO) test -count=1 $(TESTFLAGS) ./...

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

generate: ## regenerate generated code
	$(GO) generate ./...

bench: build ## graph benchmark, embedded store and a throwaway Neo4j side by side (CIS=50000)
	tools/neo4j/with-neo4j.sh ./$(BIN) bench graph --cis $(or $(CIS),50000)

bench-go: ## go test benchmarks (with a throwaway Neo4j)
	tools/neo4j/with-neo4j.sh $(GO) test -p 1 -run '^$$' -bench . -benchmem ./...

neo4j-shell: ## a shell with NEO4J_URI/USER/PASSWORD set for a throwaway Neo4j
	tools/neo4j/with-neo4j.sh bash

playground: ## build the Playground bundle that internal/server embeds (needs Node 20.19+)
	cd web/playground && npm ci --no-audit --no-fund && npm run build

clean: ## remove build output and caches
	rm -rf bin .cache
