"""Train candidate CPU recipes for the same time budget and print one table row each.

Used to choose the `cpu` profile (docs/performance.md); run on an otherwise idle machine:
    python scripts/recipe_search.py --budget 300 A B C
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch

from inception_nb.config import DataConfig, ModelConfig, TrainConfig, get_profile
from inception_nb.data import FASHION_MNIST_SIZE, load_data
from inception_nb.training.fit import fit
from inception_nb.paths import RUNS_DIR

# A to K change this fixed base (where the search started: SGD lr 0.1, 32 px, batch 128, crop+flip,
# the preset's dropout), so those letters mean the same recipe whatever the cpu profile becomes.
BASE_DATA = DataConfig(image_size=32, batch_size=128, augment=True)
BASE_TRAIN = TrainConfig(optimizer="sgd", lr=0.1, weight_decay=5e-4)
BASE_MODEL = ModelConfig(dropout=None)
ADAMW = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05}
PLAIN_32_B64 = {"augment": False, "batch_size": 64}
NATIVE = {"image_size": FASHION_MNIST_SIZE}

# L to Q are the neighbours of the cpu profile: each states how it differs from the profile (M itself).
CPU = get_profile("cpu")
NEAR_CPU = {"L", "M", "N", "O", "P", "Q"}
PRESET_DROPOUT = {"dropout": None}

CANDIDATES = {
    "A": dict(note="32 px, crop+flip augmentation, SGD lr 0.1", data={}, train={}),
    "B": dict(note="32 px, no augmentation, SGD lr 0.1", data={"augment": False}, train={}),
    "C": dict(note="32 px, no augmentation, batch 256, SGD lr 0.2", data={"augment": False, "batch_size": 256},
              train={"lr": 0.2}),
    "D": dict(note="32 px, no augmentation, AdamW lr 2e-3", data={"augment": False}, train=ADAMW),
    "G": dict(note="32 px, no augmentation, batch 64, SGD lr 0.05", data=PLAIN_32_B64, train={"lr": 0.05}),
    "H": dict(note="32 px, no augmentation, batch 64, AdamW lr 2e-3", data=PLAIN_32_B64, train=ADAMW),
    "I": dict(note="24 px, no augmentation, batch 64, AdamW lr 2e-3", data={**PLAIN_32_B64, "image_size": 24},
              train=ADAMW),
    "J": dict(note="32 px, crop+flip augmentation, batch 64, AdamW lr 2e-3", data={"batch_size": 64}, train=ADAMW),
    "K": dict(note="28 px (native), no augmentation, batch 64, AdamW lr 2e-3", data={**PLAIN_32_B64, **NATIVE},
              train=ADAMW),
    "E": dict(note="28 px (native), no augmentation, SGD lr 0.1", data={"augment": False, **NATIVE}, train={}),
    "F": dict(note="32 px, no augmentation, no stem BatchNorm (seed exactly)", data={"augment": False}, train={},
              model={"stem_batchnorm": False}),
    "L": dict(note="the cpu profile with the preset's dropout", data={}, train={}, model=PRESET_DROPOUT),
    "M": dict(note="the cpu profile (chosen: 28 px native, no augmentation, batch 128, AdamW, no dropout)",
              data={}, train={}),
    "N": dict(note="L with lr 4e-3", data={}, train={"lr": 4e-3}, model=PRESET_DROPOUT),
    "O": dict(note="M with lr 4e-3", data={}, train={"lr": 4e-3}),
    "P": dict(note="O with a 5 % warm-up instead of 15 %", data={}, train={"lr": 4e-3, "warmup": 0.05}),
    "Q": dict(note="M with random crop + flip augmentation", data={"augment": True}, train={}),
}


def recipe(name: str) -> tuple[DataConfig, TrainConfig, ModelConfig]:
    """Return the (DataConfig, TrainConfig, ModelConfig) of one candidate."""
    spec = CANDIDATES[name]
    data, train, model = (CPU.data, CPU.train, CPU.model) if name in NEAR_CPU else (BASE_DATA, BASE_TRAIN,
                                                                                     BASE_MODEL)
    return (replace(data, **spec["data"]), replace(train, **spec["train"]), replace(model, **spec.get("model", {})))


def run(name: str, budget: float) -> dict:
    """Train one candidate for `budget` seconds; return its results row."""
    data_config, train_config, model_config = recipe(name)
    data = load_data(data_config)
    torch.manual_seed(0)
    model = model_config.build(num_classes=10, in_channels=data.channels)
    config = replace(train_config, time_budget=budget, epochs=100, progress=False,
                     out_dir=str(RUNS_DIR / f"recipe-{name}"))
    start = time.perf_counter()
    # A search reruns its letters on purpose: each run replaces that letter's previous result.
    history = fit(model, data, config, overwrite=True)
    return {"recipe": name, "note": CANDIDATES[name]["note"], "test_acc": history.last.test_acc,
            "images_seen": history.images_seen, "train_seconds": round(history.seconds, 1),
            "wall_seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    """Run the named candidates in turn and print a JSON line per result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="+", choices=sorted(CANDIDATES))
    parser.add_argument("--budget", type=float, default=300)
    args = parser.parse_args()
    for name in args.names:
        print(json.dumps(run(name, args.budget)), flush=True)


if __name__ == "__main__":
    main()
