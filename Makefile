# Every target sets itself up on a fresh clone: `make test` and `make run` call `setup` first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run lab test test-fast lint clean

setup: $(STAMP)

# Reinstall only when the dependency lists change, so a second `make setup` does nothing slow.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: setup
	$(PY) scripts/run_series.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

# Everything: the style check, every unit test and every notebook re-executed by nbval.
test: setup lint
	$(PY) -m pytest tests notebooks --nbval -p no:cacheprovider

# The inner loop: unit tests not marked slow, no notebooks.
test-fast: setup
	$(PY) -m pytest tests -m "not slow" -p no:cacheprovider

lint: setup
	$(PY) -m ruff check inception_nb tests scripts

clean:
	rm -rf out runs
