"""Notebooks 03, 04 and 05 pass nbval on a clone where notebook 02 never ran: they train the stand-in themselves.

A student who opens 04 first has no runs/notebook/best.pt. `load_or_train` then trains the `quick` profile (the
`cpu` recipe on part of the training images: the same input, loss and output shapes as 02's model) and every
output that depends on the model is tagged nbval-ignore-output and followed by an assert that holds for both.
The three notebooks run in one nbval session against one empty runs folder: 03 trains the stand-in, 04 and 05
load it. Run alone, 04 or 05 would train the same stand-in (same profile, same seed) and then do the same.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from inception_nb.paths import REPO_ROOT as ROOT

NOTEBOOKS = ["03_visualization.ipynb", "04_prediction.ipynb", "05_summary.ipynb"]


@pytest.mark.slow  # trains the stand-in model and re-executes three notebooks
def test_notebooks_03_to_05_pass_nbval_without_a_trained_model(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "INCEPTION_NB_RUNS": str(runs), "INCEPTION_NB_PROFILE": "cpu"}
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q",
                           *(f"notebooks/{name}" for name in NOTEBOOKS)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, f"nbval failed without runs/:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert (runs / "notebook" / "best.pt").is_file(), "the notebooks did not train the stand-in"
