# Two commands for a fresh machine: `make dev` and `make test`. Each creates .venv when missing.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions with hashes (reproducible: the same files everywhere); `make lock` refreshes
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" -q $(if $(UPGRADE),--upgrade)

.PHONY: dev test unit lint typecheck pytest browser bench chaos clean lock pin-base-image

$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install -q --no-deps -e .
	@touch $(STAMP)

## make lock: re-resolve pyproject.toml into the lock files, keeping the pins that still fit
## (make lock UPGRADE=1: the newest versions allowed); then `make test` installs them
lock: $(STAMP)
	$(UV_COMPILE) -o $(LOCK)
	$(UV_COMPILE) --extra dev -c $(LOCK) -o $(DEV_LOCK)

## make pin-base-image: deploy/Dockerfile's base image pinned to the digest published today
pin-base-image:
	sh scripts/pin-base-image.sh

## make dev: SQLite + in-memory bus + demo data, no servers needed
dev: $(STAMP)
	$(BIN)/herald dev

## make test: ruff, mypy --strict, then pytest against real PostgreSQL and RabbitMQ
test: $(STAMP) lint typecheck pytest

## make unit: the unit tier alone (no servers, no processes): seconds
unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP) browser
	$(BIN)/python -m tests.preflight
	$(BIN)/pytest -q

## headless Chromium + chromedriver (Debian packages) for tests/acceptance/browser, installed when missing
browser:
	bash scripts/ensure-chromium.sh

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

## make chaos: 10,000 events while services are SIGKILLed and RabbitMQ/PostgreSQL restart
chaos: $(STAMP)
	$(BIN)/python -m tests.acceptance.chaos.scenario

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache herald-dev
