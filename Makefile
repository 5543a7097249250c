# Every target creates the virtualenv in .venv/ and installs the pinned set first (once).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PRESET ?= smoke

.PHONY: install demo test test-all lint ui lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -c constraints.txt -e ".[dev,infra-test]"
	touch $(STAMP)

install: $(STAMP)  ## set up .venv with the pinned dependencies

demo: $(STAMP)  ## the main job: the pipeline flow on the smoke preset, embedded defaults
	$(VENV)/bin/arcadelab pipeline --preset $(PRESET)

test: $(STAMP)  ## lint + the test suite CI runs (unit, integration, end to end)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

test-all: $(STAMP)  ## also the slow tests
	$(PY) -m pytest -m ""

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

ui: $(STAMP)  ## MLflow UI over .arcadelab on http://127.0.0.1:5000
	$(VENV)/bin/arcadelab ui

lock: $(STAMP)  ## re-pin constraints.txt from the current .venv
	{ head -2 constraints.txt; $(VENV)/bin/pip freeze --exclude-editable \
	  | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.tmp && mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) .arcadelab .pytest_cache
