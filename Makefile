# Grand Mediation Linkage — the two commands: `make run` and `make test`.
# Each target creates (or reuses) the virtualenv under .venv itself.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PACKAGES := libs/gm_kernel libs/gm_contracts libs/gm_directory libs/gm_platform \
            services/intake services/assignment services/mediation services/reporting

# Development tokens for `make run` only; deployments point GM_TOKENS_FILE at their own.
export GM_TOKENS_FILE ?= $(CURDIR)/deploy/dev-tokens.json

.PHONY: install run test demo bench chaos fuzz contracts docs clean up down k8s-data

install: $(STAMP)

$(STAMP): requirements.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# --no-deps: our own packages come from this checkout, never from an index.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(foreach p,$(PACKAGES),-e $(p))
	touch $(STAMP)

run: install
	$(PY) -m gm_platform.supervise

test: install
	$(PY) -m pytest

# A realistic month for Hebi, played against the services `make run` started (in another
# terminal) through the public contract; DEMO_ARGS="--scale 0.3" plays a smaller one (demo/).
demo: install
	$(PY) -m demo $(DEMO_ARGS)

bench: install
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	$(PY) -m bench

# Two replicas of every service, faults injected under traffic, three runs in a row
# (gm_platform/testing/chaos.py; report: bench/results/chaos-latest.json).
chaos: install
	$(PY) -m gm_platform.testing.chaos

# The HTTP APIs fuzzed from their /openapi.json and the inbound parsers' property tests,
# with many more examples than in `make test`: GM_FUZZ_EXAMPLES requests per operation,
# GM_PROPERTY_EXAMPLES per property test.
GM_FUZZ_EXAMPLES ?= 300
GM_PROPERTY_EXAMPLES ?= 3000
fuzz: install
	GM_FUZZ_EXAMPLES=$(GM_FUZZ_EXAMPLES) GM_PROPERTY_EXAMPLES=$(GM_PROPERTY_EXAMPLES) \
		$(PY) -m pytest -s --hypothesis-show-statistics tests/test_http_fuzz.py \
		libs/gm_contracts/tests/test_contracts_properties.py \
		libs/gm_platform/tests/test_amqp_compat.py \
		services/intake/tests/unit/test_intake_properties.py

contracts: install
	$(PY) -m gm_contracts.asyncapi --out docs/asyncapi.yaml

# docs/rules.md from the rules the services load, docs/events.md and the generated blocks
# of docs/architecture.md from the schemas, handler tables, topology and aggregates
# (a test fails while any is stale).
docs: install
	$(PY) docs/make_rules_doc.py --out docs/rules.md
	$(PY) docs/make_architecture_doc.py

clean:
	rm -rf $(VENV) var .pytest_cache

# The single-host stack of deploy/docker-compose.yml (needs Docker with Compose v2).
# `down` keeps the data volumes; `$(COMPOSE) -f deploy/docker-compose.yml down -v` drops them.
COMPOSE ?= docker compose

up:
	$(COMPOSE) -f deploy/docker-compose.yml up --build --detach --wait

down:
	$(COMPOSE) -f deploy/docker-compose.yml down

# Kustomize reads only files under deploy/k8s/base: refresh its copies of the directory
# rules and calendar after editing deploy/directory.yaml, rules.yaml or calendar.yaml (a test compares them).
k8s-data:
	cp deploy/directory.yaml deploy/rules.yaml deploy/calendar.yaml deploy/k8s/base/data/
