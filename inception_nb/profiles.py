"""Run profiles: one recipe for a laptop CPU, one for a GPU, one tiny one for smoke tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .data import DataConfig
from .engine import TrainConfig

# The repository root: notebooks, the CLI and `make run` all write under runs/ here.
REPO_ROOT = Path(__file__).resolve().parent.parent
RUNS_DIR = Path(os.environ.get("INCEPTION_NB_RUNS", REPO_ROOT / "runs"))


@dataclass
class Profile:
    """A complete recipe: data, model options and training settings."""

    name: str
    data: DataConfig
    train: TrainConfig
    model: dict = field(default_factory=dict)  # extra InceptionV1 arguments (preset, stem_batchnorm)
    description: str = ""


def _cpu() -> Profile:
    # Chosen by measurement on a 2-core CPU; docs/performance.md has the table of recipes tried.
    return Profile(
        name="cpu",
        data=DataConfig(image_size=32, channels=1, batch_size=128),
        train=TrainConfig(epochs=30, time_budget=300, lr=0.1, label_smoothing=0.1),
        model={"preset": "seed", "stem_batchnorm": True},
        description="laptop CPU: 32x32 grayscale input, 5 minutes of training",
    )


def _full() -> Profile:
    return Profile(
        name="full",
        data=DataConfig(image_size=96, channels=3, batch_size=256),
        train=TrainConfig(epochs=30, time_budget=300, lr=0.2, label_smoothing=0.1),
        model={"preset": "seed", "stem_batchnorm": True},
        description="GPU: 96x96 three-channel input, the full dataset, 5 minutes",
    )


def _quick() -> Profile:
    return Profile(
        name="quick",
        data=DataConfig(image_size=32, channels=1, batch_size=64, limit=2000),
        train=TrainConfig(epochs=2, lr=0.05, label_smoothing=0.1),
        model={"preset": "seed", "stem_batchnorm": True},
        description="smoke test: 2,000 images, 2 epochs, about a minute on a CPU",
    )


PROFILES = {"cpu": _cpu, "full": _full, "quick": _quick}


def get_profile(name: str | None = None, **train_overrides) -> Profile:
    """Return the named profile, or the one INCEPTION_NB_PROFILE names (default "cpu")."""
    name = name or os.environ.get("INCEPTION_NB_PROFILE", "cpu")
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; INCEPTION_NB_PROFILE must be one of {sorted(PROFILES)}")
    profile = PROFILES[name]()
    if train_overrides:
        profile.train = replace(profile.train, **train_overrides)
    return profile


def load_or_train(run: str = "notebook", profile: str = "quick") -> tuple:
    """Return (model, CheckpointInfo) from runs/<run>/best.pt, training the quick profile if it is missing.

    Notebooks 03 to 05 call this so each of them passes Restart & Run All on its own.
    """
    from .checkpoint import load_checkpoint
    from .data import load_data
    from .engine import fit, pick_device
    from .model import InceptionV1

    path = RUNS_DIR / run / "best.pt"
    if not path.exists():
        print(f"{path} not found: training the '{profile}' profile now (run 02_training.ipynb for the real model)")
        chosen = get_profile(profile)
        data = load_data(chosen.data, device=pick_device())
        model = InceptionV1(num_classes=len(data.classes), in_channels=data.channels, **chosen.model)
        fit(model, data, replace(chosen.train, out_dir=str(RUNS_DIR / run), progress=False))
    return load_checkpoint(path, pick_device())
