# artreg: `make demo` runs the main job on the local directory target,
# `make test` installs everything the suite needs and runs it,
# `make schema` regenerates src/artreg/artreg.schema.json from src/artreg/config/keys.py.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: test demo check pytest deps system-deps bench clean schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	touch $(STAMP)

deps: $(STAMP)

# The demo needs artreg alone: no test or dev extras.
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $(DEMO_STAMP)

system-deps:
	bash scripts/install-system-deps.sh

check: deps
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy --strict src

pytest: deps system-deps
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$$PATH" $(BIN)/pytest -n 2 --durations=15 $(PYTEST_ARGS)

test: check pytest

# The JSON Schema is generated from the description of the keys; tests/config/schema_test.py
# fails when the shipped file is stale.
schema: deps
	$(BIN)/python -m artreg.config.schema > src/artreg/artreg.schema.json

demo: $(DEMO_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" ARTREG_DEMO_COMMAND="$(BIN)/artreg" bash scripts/demo.sh

# awscli v1 (the bench extra) vendors its own botocore: boto3's pins are untouched.
bench: deps
	$(BIN)/python -m pip install -q -e '.[bench]'
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/lint_startup.py
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/apply_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) public demo-build node_modules .cache
