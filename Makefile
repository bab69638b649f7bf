# Every target sets itself up on a fresh clone: `make test` and `make run` call `setup` first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run lab test test-fast lint clean

setup: $(STAMP)

# pyproject.toml lists the dependencies (lower bounds only), constraints.txt pins the versions installed here.
# Reinstall only when one of them changes, so a second `make setup` does nothing slow.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[notebooks,test]"
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
	$(PY) -m ruff check inception_nb tests scripts tools

# Only what the project rebuilds: runs/ holds the models users trained (the README says keep them there).
clean:
	rm -rf out

# The Simplified Chinese edition: notebooks/zh/ from the executed English notebooks plus notebooks/zh/translations/.
# Run it after re-executing the English notebooks; `python -m tools.zh todo` lists cells to translate.
.PHONY: zh
zh: setup
	$(PY) -m tools.zh build
