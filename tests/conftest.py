"""Shared fixtures, and the repository root the tests read files from (the package's own REPO_ROOT)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from inception_nb.paths import REPO_ROOT

ROOT = REPO_ROOT
if ROOT != Path(__file__).resolve().parent.parent:
    # With several checkouts (worktrees) an editable install of another one can shadow this one.
    raise RuntimeError(f"the tests import inception_nb from {ROOT}, not from this checkout; "
                       f"run them with PYTHONPATH={Path(__file__).resolve().parent.parent}")


@pytest.fixture(scope="module")
def one_thread():
    """Run the module's tests on one intra-op thread.

    The test machine has two cores shared with other jobs; two intra-op threads competing with them
    wait at every OpenMP barrier and run several times slower than one thread does.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small_data():
    """256 Fashion-MNIST images per split at 32 px with augmentation, in batches of 64."""
    from inception_nb.data import DataConfig, load_data

    return load_data(DataConfig(image_size=32, channels=1, batch_size=64, limit=256, seed=0, augment=True))


def make_image_folder(root: Path, classes=("cat", "dog"), per_class: int = 3, size: int = 16) -> Path:
    """Write a tiny image folder dataset (one sub-folder of plain RGB PNGs per class) under `root`."""
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (size, size), (i * 40, 80, 120)).save(root / c / f"{i}.png")
    return root


@pytest.fixture
def image_folder():
    """Return `make_image_folder`, the writer of tiny image-folder datasets."""
    return make_image_folder
