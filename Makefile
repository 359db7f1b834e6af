# jinglian: `make run` starts a local network, `make test` runs the whole suite.
# Both set everything up first on a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := src/jinglian/api/static/evidence/vendor
VENDOR_STAMP := $(VENDOR)/.installed
NET_DIR ?= .devnet

.PHONY: run test lint typecheck unit bench bench-micro bench-chain bench-long simulate setup clean help

help:
	@echo "make run    - set up and start a local network"
	@echo "make test   - set up, lint, type-check and run the whole test suite"
	@echo "make lint   - ruff and mypy --strict on the core packages"
	@echo "make bench  - run the micro-benchmarks, then the chain benchmarks (bench-micro, bench-chain)"
	@echo "make bench-chain [BENCH_DIR=DIR] - jinglian bench's standard set; reports in BENCH_DIR"
	@echo "make bench-long [STRESS_RATE=R] - restart with 1,000,000 txs, 30-minute stability"
	@echo "make simulate SEEDS=N [START=K] - run the BFT consensus simulation over seeds K..K+N-1"

setup: $(STAMP) $(VENDOR_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The evidence page's hashing library (hash-wasm, pinned in web/package-lock.json).
$(VENDOR_STAMP): web/package-lock.json
	@command -v npm >/dev/null || { echo "make setup: npm not found; the evidence web page needs it to install hash-wasm (Debian: apt-get install npm)" >&2; exit 1; }
	npm ci --prefix web --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp web/node_modules/hash-wasm/dist/sha256.umd.min.js web/node_modules/hash-wasm/dist/sm3.umd.min.js $(VENDOR)/
	cp web/node_modules/hash-wasm/LICENSE $(VENDOR)/hash-wasm.LICENSE
	touch $(VENDOR_STAMP)

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --timeout 600 -q

unit: setup
	$(BIN)/pytest -n 2 -q -m "not slow"

# Results go to docs/benchmarks.md by hand.
bench: bench-micro bench-chain

bench-micro: setup
	$(BIN)/pytest -q -p no:xdist -m benchmark --benchmark-only tests/benchmarks

# jinglian bench's standard set: each run on a fresh network; JSON, Markdown and PNG in BENCH_DIR.
BENCH_DIR ?= bench-results
JB := $(BIN)/jinglian bench --duration 60 --drain-timeout 120

bench-chain: setup
	mkdir -p $(BENCH_DIR)
	$(JB) --workload kv --mode stress --rate 1000 --duration 15 --report $(BENCH_DIR)/solo-kv-stress.json
	$(JB) --workload kv --rate 2000 --report $(BENCH_DIR)/solo-kv-2000.json
	$(JB) --nodes 4 --workload kv --mode stress --rate 300 --duration 15 --report $(BENCH_DIR)/tbft-kv-stress.json
	$(JB) --nodes 4 --workload kv --rate 1500 --report $(BENCH_DIR)/tbft-kv-1500.json
	$(JB) --nodes 4 --crypto gm --workload kv --rate 500 --report $(BENCH_DIR)/tbft-gm-kv-500.json
	$(JB) --nodes 4 --workload evidence-batch --rate 20 --report $(BENCH_DIR)/tbft-evidence-batch-20.json
	$(JB) --nodes 4 --workload query --rate 1000 --report $(BENCH_DIR)/tbft-query-1000.json
	$(BIN)/jinglian bench sync --txs 40000 --report $(BENCH_DIR)/sync-40k.json

# The long ones: a restart with 1,000,000 transactions on disk (about 12 minutes to build)
# and 30 minutes of stability at 20% of the solo stress rate (STRESS_RATE, tx/s).
STRESS_RATE ?= 2250
bench-long: setup
	mkdir -p $(BENCH_DIR)
	$(BIN)/jinglian bench restart --txs 1000000 --report $(BENCH_DIR)/restart-1m.json
	$(BIN)/jinglian bench --mode stability --rate $(STRESS_RATE) --duration 1800 --drain-timeout 120 --report $(BENCH_DIR)/stability-30min.json

SEEDS ?= 1000
START ?= 0

simulate: setup
	$(BIN)/python -m jinglian.testing.sim --seeds $(SEEDS) --start $(START)

run: setup
	$(BIN)/jinglian devnet up --nodes 4 --dir $(NET_DIR) --demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
