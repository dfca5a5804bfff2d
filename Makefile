# Every target works on a fresh machine: the first one that needs it builds .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all format lint mypy test bench performance performance-doc demo dashboards clean

all: lint mypy test

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,bench]"
	touch $(STAMP)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

mypy: $(STAMP)
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/cache_bench.py
	$(BIN)/python bench/worker_bench.py
	$(BIN)/python bench/fleet_bench.py
	$(BIN)/python bench/telemetry_bench.py
	$(BIN)/python bench/batch_bench.py
	$(BIN)/python bench/chunk_bench.py

# docs/performance.md, its plots and performance.json: the full runs take several minutes.
performance: $(STAMP)
	$(BIN)/python bench/batch_bench.py --record
	$(BIN)/python bench/chunk_bench.py --record
	$(BIN)/python bench/scale_bench.py

# The page and plots again from the committed performance.json, without measuring.
performance-doc: $(STAMP)
	$(BIN)/python bench/performance_doc.py

dashboards: $(STAMP)
	$(BIN)/python dashboards/generate.py

demo: $(STAMP)
	$(BIN)/llmix-workers demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build
	find llmix_workers -name "*.so" -delete

# The Helm chart and the Dockerfile, checked with Helm's own library (no cluster, no Docker).
.PHONY: chart
chart: $(STAMP)
	$(BIN)/pytest tests/chart -q

# The fault suite (real workers, private Redis/RabbitMQ, the stub) and the page made from it.
.PHONY: faults reliability
faults: $(STAMP)
	LLMIX_RECORD_RELIABILITY=1 $(BIN)/pytest -m faults tests/faults -q

reliability: $(STAMP)
	$(BIN)/python -m llmix_workers.testing.reliability_report

# The nemesis suite (root: network namespaces) with its figures into docs/reliability.json, then
# the page; a failing seed replays with `python -m llmix_workers.testing.nemesis --mixed SEED`.
.PHONY: nemesis
nemesis: $(STAMP)
	LLMIX_RECORD_RELIABILITY=1 $(BIN)/pytest -m nemesis tests/nemesis -q -s
	$(BIN)/python -m llmix_workers.testing.reliability_report
