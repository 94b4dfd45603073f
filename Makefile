# Quick start (see README): `make run` runs every system on the bundled benchmark; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup run test test-unit test-integration bench clean-runs

setup:
	bash scripts/setup.sh

run: setup
	$(PY) -m harness run --systems all

test: setup
	$(PY) -m pytest

test-unit: setup
	$(PY) -m pytest -m "not integration and not browser"

test-integration: setup
	$(PY) -m pytest -m integration

clean-runs:
	rm -rf runs
