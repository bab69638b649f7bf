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

from inception_nb.data import DataConfig, load_data
from inception_nb.engine import TrainConfig, fit
from inception_nb.model import InceptionV1
from inception_nb.profiles import RUNS_DIR

# Every candidate changes this fixed base (where the search started: SGD lr 0.1, 32 px, batch 128,
# crop+flip), so a letter means the same recipe whatever the cpu profile has become since.
BASE_DATA = DataConfig(image_size=32, channels=1, batch_size=128, augment=True)
BASE_TRAIN = TrainConfig(optimizer="sgd", lr=0.1, weight_decay=5e-4, label_smoothing=0.1)
BASE_MODEL = {"preset": "seed", "stem_batchnorm": True}
ADAMW = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05}
PLAIN_32_B64 = {"augment": False, "batch_size": 64}
NATIVE_B128 = {"augment": False, "batch_size": 128, "image_size": 28}
NO_DROPOUT = {"dropout": 0.0}

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
    "K": dict(note="28 px (native), no augmentation, batch 64, AdamW lr 2e-3",
              data={**PLAIN_32_B64, "image_size": 28}, train=ADAMW),
    "L": dict(note="28 px (native), no augmentation, batch 128, AdamW lr 3e-3", data=NATIVE_B128,
              train={**ADAMW, "lr": 3e-3}),
    "M": dict(note="L without dropout (the cpu profile)", data=NATIVE_B128, train={**ADAMW, "lr": 3e-3},
              model=NO_DROPOUT),
    "N": dict(note="L with lr 4e-3", data=NATIVE_B128, train={**ADAMW, "lr": 4e-3}),
    "O": dict(note="M with lr 4e-3", data=NATIVE_B128, train={**ADAMW, "lr": 4e-3}, model=NO_DROPOUT),
    "P": dict(note="O with a 5 % warm-up instead of 15 %", data=NATIVE_B128,
              train={**ADAMW, "lr": 4e-3, "warmup": 0.05}, model=NO_DROPOUT),
    "Q": dict(note="M with random crop + flip augmentation", data={**NATIVE_B128, "augment": True},
              train={**ADAMW, "lr": 3e-3}, model=NO_DROPOUT),
    "E": dict(note="28 px (native), no augmentation, SGD lr 0.1", data={"augment": False, "image_size": 28},
              train={}),
    "F": dict(note="32 px, no augmentation, no stem BatchNorm (seed exactly)", data={"augment": False}, train={},
              model={"stem_batchnorm": False}),
}


def recipe(name: str) -> tuple:
    """Return the (DataConfig, TrainConfig, model arguments) of one candidate."""
    spec = CANDIDATES[name]
    return (replace(BASE_DATA, **spec["data"]), replace(BASE_TRAIN, **spec["train"]),
            {**BASE_MODEL, **spec.get("model", {})})


def run(name: str, budget: float) -> dict:
    """Train one candidate for `budget` seconds; return its results row."""
    data_config, train_config, model_args = recipe(name)
    data = load_data(data_config)
    torch.manual_seed(0)
    model = InceptionV1(num_classes=10, in_channels=data.channels, **model_args)
    config = replace(train_config, time_budget=budget, epochs=100, progress=False,
                     out_dir=str(RUNS_DIR / f"recipe-{name}"))
    start = time.perf_counter()
    history = fit(model, data, config)
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
