# The public interface: make up · down · reset · test · demo · bench (see README.md).
# Local mode needs no Docker: Kafka (Apache's jars from Maven Central) and PostgreSQL (Debian's
# packages) run as local processes under $(COMPLAINTS_HOME) (default .local/).

PY      := .venv/bin/python
SYSPY   := $(shell command -v python3.11 || command -v python3)
# Local mode for make up/test/demo; the Docker targets keep compose's own default (production)
# unless the caller set COMPLAINTS_ENV.
CALLER_COMPLAINTS_ENV := $(COMPLAINTS_ENV)
export COMPLAINTS_ENV ?= local

.PHONY: up down reset status test test-unit test-e2e lint schemas bootstrap demo bench help
.PHONY: docs observability screenshots

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

bootstrap:  ## install what is missing: PostgreSQL, Java/Maven, the Kafka jars, the virtualenv
	@bash deploy/local/bootstrap.sh

up: bootstrap  ## start Kafka, PostgreSQL and the four services; return once all are healthy
	@$(PY) -m deploy.local.stack up

down:  ## stop everything, keep the data
	@$(SYSPY) -m deploy.local.stack down

reset:  ## stop everything and wipe the data (the Kafka jar cache stays)
	@$(SYSPY) -m deploy.local.stack reset

status:  ## what is running
	@$(SYSPY) -m deploy.local.stack status

test: bootstrap  ## every test: unit, integration, end-to-end, faults (real Kafka and PostgreSQL)
	@$(PY) -m pytest -q

test-unit: bootstrap  ## the fast tests only (no broker, no database)
	@$(PY) -m pytest -q tests/unit

lint:  ## ruff and mypy
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy contracts services

schemas:  ## write the JSON Schema of new event versions into contracts/schemas
	@$(PY) -m contracts.schemagen

demo:  ## on a running system (make up): a month of complaints from the 3 channels (MONTH=YYYY-MM SEED=n)
	@$(PY) -m services.simulator $(if $(MONTH),--month $(MONTH)) $(if $(SEED),--seed $(SEED))

screenshots:  ## on a running system with data (make up, make demo): pictures of the pages into docs/pages/
	@$(PY) -m deploy.local.screenshots $(if $(MONTH),--month $(MONTH))

docs:  ## write the interface documents from the code: docs/openapi/<service>.json, docs/asyncapi.json
	@$(PY) -m services.apidocs

observability:  ## Docker: the stack plus Prometheus (:9090) and Grafana (:3000, dashboard provisioned)
	@COMPLAINTS_ENV=$(or $(CALLER_COMPLAINTS_ENV),production) docker compose --profile observability up -d --build

bench: bootstrap  ## measure the system beside raw baselines; table + bench/results/latest.json (see bench/README.md)
	@$(PY) -m bench
