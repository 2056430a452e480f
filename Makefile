# dialq: `make run` runs everything on this machine, `make test` passes the tests.
include deploy/Makefile.stack.mk

GO ?= go
STATE ?= $(CURDIR)/.dialq

.DEFAULT_GOAL := help
.PHONY: help run test bench build migrate vet fmt lint openapi-check

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build every binary into bin/ (installs the C libraries cgo needs if missing)
	bash deploy/stack.sh tools
	$(GO) build -o bin/ ./cmd/...

run: ## bring up the stack, seed the demo tenant, run phone simulator + sipp phone + API + worker (Ctrl-C stops these; the stack runs on until make down)
	bash deploy/run.sh

test: ## start the stack if needed, vet, run every test against it, print the summary
	bash deploy/test.sh

bench: ## benchmarks: accept path vs a reference handler, added latency of the synchronous call
	bash deploy/bench.sh

migrate: up ## apply the SQL migrations to the stack's database
	. $(STATE)/stack.env && $(GO) run ./cmd/dialqctl migrate

lint: ## gofmt, go vet, staticcheck (into .dialq/tools) and the offline checks of deploy/'s compose file, Kubernetes manifests and Dockerfiles
	bash deploy/lint.sh

vet: ## go vet
	$(GO) vet ./...

fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

openapi-check: ## the OpenAPI document loads and validates (kin-openapi), and openapicheck's own tests pass; no stack needed
	$(GO) test ./internal/testkit/openapicheck/ ./internal/httpapi/ -run 'TestTransport|TestNewRefusesABadDocument|TestOpenAPI|TestServedOpenAPIDocumentLoads' -count=1
