# Every target works on a fresh machine: the first one that needs it builds .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all format lint mypy test bench performance performance-doc demo dashboards clean docs reference \
	dashboard-pictures

all: lint mypy test

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,bench,docs]"
	touch $(STAMP)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

mypy: $(STAMP)
	$(BIN)/mypy

# Two passes: the tests that can share the machine run over $(TEST_WORKERS) pytest-xdist workers
# (a test file stays on one worker, so its module fleet starts once); those marked `serial` then
# run alone. Each pass ends with -ra's short summary of failures and errors and its 20 slowest
# tests; tests/recap.py then prints both passes' slowest tests and failures once more, so a
# failed CI run is diagnosable from its log's tail, and fails if either pass failed.
TEST_WORKERS ?= 4
RESULTS := .test-results
test: $(STAMP)
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" --durations=20 \
		--junitxml=$(RESULTS)/parallel.xml; echo $$? > $(RESULTS)/parallel.rc
	$(BIN)/pytest -m serial --durations=20 \
		--junitxml=$(RESULTS)/serial.xml; echo $$? > $(RESULTS)/serial.rc
	@$(BIN)/python tests/recap.py $(RESULTS) parallel serial

bench: $(STAMP)
	$(BIN)/python bench/cache_bench.py
	$(BIN)/python bench/worker_bench.py
	$(BIN)/python bench/fleet_bench.py
	$(BIN)/python bench/telemetry_bench.py
	$(BIN)/python bench/batch_bench.py
	$(BIN)/python bench/chunk_bench.py
	$(BIN)/python bench/inflight_bench.py
	$(BIN)/python bench/budget_bench.py

# docs/performance.md, its plots and performance.json: the full runs take several minutes.
performance: $(STAMP)
	$(BIN)/python bench/batch_bench.py --record
	$(BIN)/python bench/chunk_bench.py --record
	$(BIN)/python bench/inflight_bench.py --record
	$(BIN)/python bench/scale_bench.py

# The page and plots again from the committed performance.json, without measuring.
performance-doc: $(STAMP)
	$(BIN)/python bench/performance_doc.py

dashboards: $(STAMP)
	$(BIN)/python dashboards/generate.py

# docs/guides/dashboard/*.png, one picture per dashboard row, drawn from a real fleet's metrics
# (a threads and a prefork node, the stub, a private Prometheus; about three and a half minutes).
# `$(BIN)/python -m docgen.dashboard_pictures --replot build/dashboard-series.json` redraws
# them from the last run's series without a fleet.
dashboard-pictures: $(STAMP)
	$(BIN)/python -m docgen.dashboard_pictures

# The documentation site (docs/, mkdocs.yml) into build/site; a broken link or reference fails.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The generated reference pages (CLI, settings, metrics and spans) again from the code.
reference: $(STAMP)
	$(BIN)/python -m docgen

demo: $(STAMP)
	$(BIN)/llmix-workers demo

clean:
	rm -rf $(VENV) $(RESULTS) .pytest_cache .mypy_cache .ruff_cache .hypothesis build
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
	$(BIN)/python -m docgen.reliability

# The nemesis suite (root: network namespaces) with its figures into
# docs/explanations/reliability.json, then the page; a failing seed replays with
# `python -m llmix_workers.testing.nemesis --mixed SEED`.
.PHONY: nemesis
nemesis: $(STAMP)
	LLMIX_RECORD_RELIABILITY=1 $(BIN)/pytest -m nemesis tests/nemesis -q -s
	$(BIN)/python -m docgen.reliability
