# Every target sets itself up on a fresh clone: `make test` and `make run` call `setup` first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run lab test clean

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

test: setup
	$(PY) -m pytest tests notebooks --nbval -p no:cacheprovider

# Only what the project rebuilds: runs/ holds the models users trained (the README says keep them there).
clean:
	rm -rf out
