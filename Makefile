# Tribune: `make run` starts the demo on the embedded default; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
export FLASK_APP := app.py

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# The lock: the exact versions, with their hashes, that the suite passed with (make lock).
# pip refuses anything else; Tribune itself goes in editable, with nothing more.
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed translations ## Create .venv and install the locked dependencies

# `make lock` keeps every pin that pyproject.toml still allows and adds what is new;
# `make lock UPGRADE=redis` moves one package (and what it needs) to its newest allowed
# version, `make lock UPGRADE=all` moves them all. requirements.txt (production) takes the
# same versions as requirements-dev.txt (the suite), without the dev tools.
LOCK := $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --universal \
	--python-version 3.11 --quiet
UPGRADE ?=
UPGRADE_FLAGS := $(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))
export UV_CUSTOM_COMPILE_COMMAND := make lock

lock: $(VENV)/.installed ## Refresh the lock files (UPGRADE=package or UPGRADE=all to move)
	$(LOCK) --extra dev $(UPGRADE_FLAGS) -o requirements-dev.txt
	$(LOCK) -c requirements-dev.txt -o requirements.txt

translations: $(VENV)/.installed ## Compile the French and English catalogues
	$(VENV)/bin/pybabel compile -d campaign/translations

extract: $(VENV)/.installed ## Extract strings and update both catalogues
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o campaign/translations/messages.pot .
	$(VENV)/bin/pybabel update -N -i campaign/translations/messages.pot -d campaign/translations

db: install ## Apply the migrations to the database (SQLite under instance/ by default)
	$(FLASK) db upgrade

demo: db ## Load the demo petition and its signatories (idempotent)
	$(FLASK) demo load

run: demo ## Set up and serve the demo on http://127.0.0.1:5000
	TRIBUNE_DEMO=1 $(FLASK) run --host 127.0.0.1 --port 5000

worker: install ## Run an RQ worker (needs REDIS_URL)
	$(FLASK) worker

# One test process per core (pytest-xdist), at most 8: each has its own database and its
# own Redis database (the first free of 15, 14..., tests/conftest.py). `make test TEST_WORKERS=0` runs in one.
TEST_WORKERS ?= auto
PYTEST := $(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --maxprocesses 8 --dist worksteal

test: install ## Run the test suite on SQLite, then on PostgreSQL
	$(PYTEST)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		$(PYTEST) -m "not browser"

# The drift canary: a fresh venv with the newest versions that pyproject.toml allows, the
# differences from the lock printed, then the whole suite.
LATEST_VENV := .venv-latest

test-latest: $(VENV)/.installed ## Run the suite against the newest versions pyproject.toml allows
	rm -rf $(LATEST_VENV)
	python3 -m venv $(LATEST_VENV)
	$(LOCK) --extra dev --upgrade --no-header --no-annotate -o $(LATEST_VENV)/latest.txt
	$(LATEST_VENV)/bin/pip install --quiet --require-hashes --no-deps -r $(LATEST_VENV)/latest.txt
	$(LATEST_VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	@echo "Newer than the lock:"; diff <(grep -E '^[a-z0-9]' requirements-dev.txt) \
		<(grep -E '^[a-z0-9]' $(LATEST_VENV)/latest.txt) | grep '^>' || echo "  nothing"
	touch $(LATEST_VENV)/.installed
	$(MAKE) test VENV=$(LATEST_VENV)

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install ## Benchmark the sign path on the production stack
	$(PY) bench/sign.py

bench-campaign: install ## Benchmark a 20,000-letter mailing against raw smtplib
	$(PY) bench/campaign.py

.PHONY: help install lock translations extract db demo run worker test test-latest lint bench \
	bench-campaign

settings-doc: $(VENV)/.installed ## Write docs/settings.md from the declarations in campaign/settings.py
	$(PY) -c "from campaign.settings import settings_markdown; print(settings_markdown(), end='')" > docs/settings.md
