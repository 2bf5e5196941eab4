# idsync developer tasks. `make help` lists them.
#
# Pinned tools, and why:
#   staticcheck, benchstat: pinned in go.mod's tool block (go tool ...), so
#     every machine runs the exact version the module graph names.
#   golangci-lint v2.15.0: the newest release that builds with this Go
#     (1.26); linters change findings between releases, so bump it on
#     purpose. It is heavy, so it installs into .tools/ (ignored) on first use.
GOLANGCI_LINT_VERSION := v2.15.0
TOOLS := $(CURDIR)/.tools

.DEFAULT_GOAL := help
.PHONY: help build demo test testdeps lint bench bench-e2e bench-e2e-10m bench-e2e-10m-wave bench-e2e-10m-steady check clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-21s %s\n", $$1, $$2}'

build: ## build bin/idsync
	go build -o bin/idsync ./cmd/idsync

demo: ## run the quickstart: sync testdata/quickstart/hr.csv into a SQLite directory
	go run ./cmd/idsync -c testdata/quickstart/idsync.yaml apply

SCIMMY := testdata/scim/scimmy

test: testdeps ## vet and run every test (what CI runs)
	go vet ./...
	go test ./...

# The lenient SCIM test server is the npm packages scimmy and
# scimmy-routers; npm ci installs exactly the locked versions.
testdeps: $(SCIMMY)/node_modules/.package-lock.json
$(SCIMMY)/node_modules/.package-lock.json: $(SCIMMY)/package-lock.json
	npm ci --prefix $(SCIMMY) --no-audit --no-fund
	@touch $@

lint: ## gofmt, go vet, staticcheck and golangci-lint (pinned)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	go vet ./...
	go tool staticcheck ./...
	@test -x $(TOOLS)/golangci-lint || GOBIN=$(TOOLS) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	$(TOOLS)/golangci-lint run ./...

bench: ## quick micro-benchmarks (rules, diff, state scan)
	go test -run '^$$' -bench . -benchmem ./...

bench-e2e: ## end-to-end scenarios at 1M identities, with the parse-only and DuckDB baselines
	go run ./bench/e2e -n 1000000

bench-e2e-10m: ## delta plan of 10k changes against a 10M-identity state (needs ~5 GB of disk)
	go run ./bench/e2e -n 10000000 -changes 0.1 -delta-only

bench-e2e-10m-wave: ## initial plan at 10M: its first wave, at the default opsPerRun (bounded memory)
	go run ./bench/e2e -n 10000000 -changes 0.1 -wave-only

bench-e2e-10m-steady: ## steady full plan at 10M, on a state applied in 1M slices (~45 min, ~30 GB of disk)
	go run ./bench/e2e -n 10000000 -changes 0.1 -slices 1000000

check: lint test ## everything: lint and tests

clean: ## remove build output and quickstart state
	rm -rf bin testdata/quickstart/.idsync testdata/quickstart/directory.db*
