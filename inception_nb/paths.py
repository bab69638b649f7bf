"""Where things live: the repository root, the data folder and the runs folder, decided here only."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "DATA_ROOT", "RUNS_DIR"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# The shipped Fashion-MNIST files and the sample images; INCEPTION_NB_DATA points elsewhere.
DATA_ROOT = Path(os.environ.get("INCEPTION_NB_DATA") or REPO_ROOT / "data")
# Notebooks, the CLI and `make run` all write training runs here; INCEPTION_NB_RUNS points elsewhere.
RUNS_DIR = Path(os.environ.get("INCEPTION_NB_RUNS") or REPO_ROOT / "runs")
