# Tribune: `make run` starts the demo on the embedded default; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
export FLASK_APP := app.py

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed translations ## Create .venv and install Tribune with its dev tools

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
# own Redis database (15 down to 8, tests/conftest.py). `make test TEST_WORKERS=0` runs in one.
TEST_WORKERS ?= auto
PYTEST := $(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --maxprocesses 8 --dist worksteal

test: install ## Run the test suite on SQLite, then on PostgreSQL
	$(PYTEST)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		$(PYTEST) -m "not browser"

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install ## Benchmark the sign path on the production stack
	$(PY) bench/sign.py

bench-campaign: install ## Benchmark a 20,000-letter mailing against raw smtplib
	$(PY) bench/campaign.py

.PHONY: help install translations extract db demo run worker test lint bench bench-campaign
