# Two commands for a fresh machine: `make dev` and `make test`. Each creates .venv when missing.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck pytest browser bench chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

## make dev: SQLite + in-memory bus + demo data, no servers needed
dev: $(STAMP)
	$(BIN)/herald dev

## make test: ruff, mypy --strict, then pytest against real PostgreSQL and RabbitMQ
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP) browser
	$(BIN)/python -m tests.preflight
	$(BIN)/pytest -q

## headless Chromium + chromedriver (Debian packages) for tests/browser, installed when missing
browser:
	bash scripts/ensure-chromium.sh

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

## make chaos: 10,000 events while services are SIGKILLed and RabbitMQ/PostgreSQL restart
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.scenario

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache herald-dev
