# The few verbs people use. Everything runs from the project's own virtual environment.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint bench eval

$(PY):
	python3.11 -m venv $(VENV)

install: $(PY)
	$(VENV)/bin/pip install -e '.[dev,local]'

run: $(PY)
	$(VENV)/bin/summarizer summarize examples/

test: $(PY)
	$(PY) -m pytest

lint: $(PY)
	$(VENV)/bin/ruff check summarizer tests benchmarks evals
	$(VENV)/bin/mypy

bench: $(PY)
	for f in benchmarks/bench_*.py; do $(PY) $$f; done

eval: $(PY)
	$(VENV)/bin/summarizer eval all --gate
