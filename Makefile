# jinglian: `make run` starts a local network, `make test` runs the whole suite.
# Both set everything up first on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NET_DIR ?= .devnet

.PHONY: run test lint typecheck unit bench simulate setup clean help

help:
	@echo "make run    - set up and start a local network"
	@echo "make test   - set up, lint, type-check and run the whole test suite"
	@echo "make lint   - ruff and mypy --strict on the core packages"
	@echo "make bench  - run the benchmarks (results go to docs/benchmarks.md by hand)"
	@echo "make simulate SEEDS=N [START=K] - run the BFT consensus simulation over seeds K..K+N-1"

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --timeout 600 -q

unit: setup
	$(BIN)/pytest -n 2 -q -m "not slow"

bench: setup
	$(BIN)/pytest -q -p no:xdist -m benchmark --benchmark-only tests/benchmarks

SEEDS ?= 1000
START ?= 0

simulate: setup
	$(BIN)/python -m jinglian.testing.sim --seeds $(SEEDS) --start $(START)

run: setup
	$(BIN)/jinglian devnet up --nodes 4 --dir $(NET_DIR)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
