# Every target sets itself up on a fresh clone: `make test` and `make run` call `setup` first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run lab test test-units test-notebooks test-fast lint clean book book-check

setup: $(STAMP)

# pyproject.toml lists the dependencies (lower bounds only), constraints.txt pins the versions installed here;
# requirements.txt names the two (-c constraints.txt, -e .[notebooks,test]), so `pip install -r requirements.txt`
# and `make setup` are one install. Reinstall only when one of them changes, so a second `make setup` is quick.
# pip byte-compiles what it installs one file at a time (27 of a fresh setup's 80 s, measured); compileall does it on
# every core (13 s). Bytecode must be written here: with PYTHONDONTWRITEBYTECODE set, as on this project's machines,
# every later process would otherwise compile torch from source again. A few files of the dependencies do not compile
# (pip skips those silently too), so compileall's status is not checked.
$(STAMP): requirements.txt pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.txt
	-@$(PY) -m compileall -qq -j 0 $(VENV)/lib > /dev/null
	@touch $(STAMP)

run: setup
	$(PY) scripts/run_series.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

# Everything: the style check, every unit test and every notebook re-executed by nbval. The two tiers share
# nothing (tests write to temporary folders, the notebooks to a fresh runs folder), so they run side by side, each
# with half the cores' threads: PyTorch's OpenMP threads wait for work by spinning, and two processes that each
# start one thread per core starve each other (on 2 cores the stand-in training, 36 s alone, took 11 minutes that
# way). Each tier's output is printed whole when it ends.
CORES := $(shell nproc 2>/dev/null || echo 2)
TIER_THREADS := $(shell echo $$(( $(CORES) > 3 ? $(CORES) / 2 : 1 )))
test: setup lint
	@OMP_NUM_THREADS=$(TIER_THREADS) MKL_NUM_THREADS=$(TIER_THREADS) \
	    $(MAKE) --no-print-directory -j2 --output-sync=target test-units test-notebooks

# The tests that run notebooks themselves (tests/test_first_cell.py) ride with the notebook tier, which keeps the two
# tiers about equally long.
NOTEBOOK_TESTS := tests/test_first_cell.py
test-units: setup
	$(PY) -m pytest tests $(NOTEBOOK_TESTS:%=--ignore=%) -p no:cacheprovider --durations=30

# Every notebook once, in an empty runs folder, in this order: 03, 04 and 05 first, as a student who opens one of
# them before 02 would (no trained model: 03 trains the stand-in, 04 and 05 load it), then 02 (the real model),
# then 03 and 04 again on 02's model, the order of the series: their asserts grade the model. 05 is not run twice:
# it only asserts the model beats 60 % (02 asserts 85 %), and its sweeps, the costly part, never read the model.
# Outputs that depend on the model are nbval-ignore-output.
SERIES := 00_setup 01_model_structure 03_visualization 04_prediction 05_summary 02_training 03_visualization \
          04_prediction
test-notebooks: setup
	INCEPTION_NB_RUNS="$$(mktemp -d)" $(PY) -m pytest --nbval -p no:cacheprovider --keep-duplicates --durations=10 \
	    $(SERIES:%=notebooks/%.ipynb) notebooks/exercises/solutions $(NOTEBOOK_TESTS)

# The inner loop: unit tests not marked slow, no notebooks.
test-fast: setup
	$(PY) -m pytest tests -m "not slow" -p no:cacheprovider

lint: setup
	$(PY) -m ruff check inception_nb tests scripts tools book

# Only what the project rebuilds: runs/ holds the models users trained (the README says keep them there).
clean:
	rm -rf out

# The Simplified Chinese edition: notebooks/zh/ from the executed English notebooks plus notebooks/zh/translations/.
# Run it after re-executing the English notebooks; `python -m tools.zh todo` lists cells to translate.
.PHONY: zh
zh: setup
	$(PY) -m tools.zh build

# The series as a website (out/book/site/, English and Chinese): the committed notebooks rendered with Sphinx and
# MyST-NB, nothing executed, nothing downloaded. The [book] extra is installed into .venv on first use.
BOOK_STAMP := $(VENV)/.book-installed
$(BOOK_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[notebooks,test,book]"
	@touch $(BOOK_STAMP)

book: $(BOOK_STAMP)
	$(PY) scripts/build_book.py

# The built site in headless Chromium (needs Debian's chromium and chromium-driver) plus a link check over its
# files. The build runs without a network where `unshare -n` may be used (as root), to prove it needs none.
book-check: $(BOOK_STAMP)
	@if unshare -n true 2>/dev/null; then echo "building offline (unshare -n)"; unshare -n $(PY) scripts/build_book.py; \
	else $(PY) scripts/build_book.py; fi
	$(PY) scripts/check_book.py
