# The whole set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
ARGN_VENV ?= .venv-argn
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test test-fast lint format bench fidelity argn-venv bench-scale clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime-installed
	$(BIN)/python -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) --server.headless true

test: $(VENV)/.dev-installed
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

test-fast: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -m "not slow and not e2e"

lint: $(VENV)/.dev-installed
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/python -m ruff format .
	$(BIN)/python -m ruff check --fix .

bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.bench_overhead
	$(BIN)/python -m benchmarks.bench_preview
	$(BIN)/python -m benchmarks.bench_llm --repeats 3
	$(BIN)/python -m benchmarks.bench_faker_providers --repeats 5
	$(BIN)/python -m benchmarks.bench_hybrid --rows 100000 --llm-rows 2000 --seed-rows 200 --repeats 3
	$(BIN)/python -m benchmarks.bench_dashboard
	$(BIN)/python -m benchmarks.bench_hma --repeats 3 --datasets travel_modes web_shop

# About 20 minutes on 2 cores; e.g. FIDELITY_ARGS="--quick" or "--repeats 3 --json-out f.json".
# The full run includes TabularARGN, installed for the benchmark only in its own venv.
fidelity: $(VENV)/.dev-installed $(ARGN_VENV)/.installed
	$(BIN)/python -m benchmarks.bench_fidelity $(FIDELITY_ARGS)

argn-venv: $(ARGN_VENV)/.installed

$(ARGN_VENV)/.installed: benchmarks/argn_venv.sh $(VENV)/.runtime-installed
	bash benchmarks/argn_venv.sh $(ARGN_VENV) $(BIN)/python

# Generation at scale (issue #7): about 10 minutes on 2 cores; e.g. SCALE_ARGS="--quick", or
# "--repeats 3,3 --quiet-cores 0.5" as in docs/BENCHMARKS.md.
bench-scale: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.bench_scale $(SCALE_ARGS)

clean:
	rm -rf $(VENV) $(ARGN_VENV) .pytest_cache .ruff_cache
