# Kizuna — every entry point a developer or CI needs. The venv is made on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
# Most tests wait on sockets and subprocesses, so three processes fit two cores well.
TEST_WORKERS ?= 3
PORT   ?= 8000

.PHONY: setup run demo test lint format bench load fuzz clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

## run: set up, migrate, seed the demo city and serve on http://127.0.0.1:8000
run: setup
	$(BIN)/kizuna demo
	$(BIN)/kizuna serve --host $(HOST) --port $(PORT)

demo: setup
	$(BIN)/kizuna demo

## test: set up and run the whole test suite
test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --explicit-package-bases bench

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: benchmarks print figures and ratios against their baselines
bench: setup
	$(BIN)/python bench/bench_targeting.py
	$(BIN)/python bench/bench_shelters.py
	$(BIN)/python bench/bench_dispatch.py
	$(BIN)/python bench/bench_mutual_aid.py
	$(BIN)/python bench/bench_distributed.py

## load: load test on loopback: 10,000 live residents, an alert burst, check-ins, dispatch
## (about 3 minutes; scale with LOAD_ARGS, e.g. LOAD_ARGS="--residents 2000 --distributed")
load: setup
	$(BIN)/python bench/load.py $(LOAD_ARGS)

## fuzz: schemathesis over every OpenAPI operation (SQLite and PostgreSQL) and the bad-input
## corpus, with many more examples than CI (FUZZ_EXAMPLES, FUZZ_STEPS; FUZZ_RANDOM=1)
FUZZ_EXAMPLES ?= 300
FUZZ_STEPS ?= 40
fuzz: setup
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_STEPS=$(FUZZ_STEPS) \
		$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --timeout 0 tests/fuzz

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
