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


# The CLI trains for this long by default: "train for five minutes" on a laptop CPU.
CLI_TIME_BUDGET = 300.0


def _cpu() -> Profile:
    # Chosen by measurement on 2 CPU cores (docs/performance.md, scripts/recipe_search.py): native
    # 28 x 28 input and batches of 128 train the most images per second; AdamW beats SGD by 2 points
    # at the same budget; augmentation and dropout only pay off after more passes than fit here.
    # Epochs (not a time budget) so the accuracy, and the assert in notebook 02, is the same on any
    # machine; here two epochs take about 5 minutes.
    return Profile(
        name="cpu",
        data=DataConfig(image_size=28, channels=1, batch_size=128, augment=False),
        train=TrainConfig(epochs=2, optimizer="adamw", lr=3e-3, weight_decay=0.05, label_smoothing=0.1),
        model={"preset": "seed", "stem_batchnorm": True, "dropout": 0.0},
        description="laptop CPU: native 28x28 grayscale input, two epochs (about 5 minutes on 2 cores)",
    )


def _full() -> Profile:
    return Profile(
        name="full",
        data=DataConfig(image_size=96, channels=3, batch_size=256),
        train=TrainConfig(epochs=30, time_budget=300, optimizer="adamw", lr=2e-3, weight_decay=0.05),
        model={"preset": "seed", "stem_batchnorm": True},
        description="GPU: 96x96 three-channel input, the full dataset, 5 minutes",
    )


def _quick() -> Profile:
    return Profile(
        name="quick",
        data=DataConfig(image_size=32, channels=1, batch_size=64, limit=2000, augment=False),
        train=TrainConfig(epochs=2, optimizer="adamw", lr=2e-3, weight_decay=0.05),
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


def profile_table() -> str:
    """Return a Markdown table of the run profiles and what each trains."""
    out = ["| profile | for | input | batch | images | training |", "|---|---|---|---:|---|---|"]
    for name in PROFILES:
        p = get_profile(name)
        images = f"{p.data.limit:,} per split" if p.data.limit else "all 60,000"
        length = (f"{p.train.time_budget:.0f} s budget" if p.train.time_budget else f"{p.train.epochs} epochs")
        out.append(f"| `{name}` | {p.description.split(':')[0]} | {p.data.image_size}x{p.data.image_size}x"
                   f"{p.data.channels} | {p.data.batch_size} | {images} | {length} |")
    return "\n".join(out)


def data_for_checkpoint(info, dataset: str = "fashion-mnist", batch_size: int = 256):
    """Return a DataBundle preprocessed the way the checkpoint's model expects (no augmentation)."""
    from .data import DataConfig, load_data
    from .engine import pick_device

    config = DataConfig(dataset=dataset, image_size=info.image_size, channels=info.channels,
                        batch_size=batch_size, augment=False)
    return load_data(config, device=pick_device(), training=False)
