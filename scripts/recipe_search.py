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

from inception_nb.data import load_data
from inception_nb.engine import fit
from inception_nb.model import InceptionV1
from inception_nb.profiles import RUNS_DIR, get_profile

# Each candidate changes the cpu profile in one or two ways.
CANDIDATES = {
    "A": dict(note="32 px, crop+flip augmentation, SGD lr 0.1", data={}, train={}),
    "B": dict(note="32 px, no augmentation, SGD lr 0.1", data={"augment": False}, train={}),
    "C": dict(note="32 px, no augmentation, batch 256, SGD lr 0.2", data={"augment": False, "batch_size": 256},
              train={"lr": 0.2}),
    "D": dict(note="32 px, no augmentation, AdamW lr 2e-3", data={"augment": False},
              train={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05}),
    "G": dict(note="32 px, no augmentation, batch 64, SGD lr 0.05", data={"augment": False, "batch_size": 64},
              train={"lr": 0.05}),
    "H": dict(note="32 px, no augmentation, batch 64, AdamW lr 2e-3", data={"augment": False, "batch_size": 64},
              train={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05}),
    "I": dict(note="24 px, no augmentation, batch 64, AdamW lr 2e-3",
              data={"augment": False, "batch_size": 64, "image_size": 24},
              train={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05}),
    "J": dict(note="32 px, crop+flip augmentation, batch 64, AdamW lr 2e-3", data={"batch_size": 64, "augment": True},
              train={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05}),
    "K": dict(note="28 px (native), no augmentation, batch 64, AdamW lr 2e-3",
              data={"augment": False, "batch_size": 64, "image_size": 28},
              train={"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05}),
    "L": dict(note="28 px (native), no augmentation, batch 128, AdamW lr 3e-3",
              data={"augment": False, "batch_size": 128, "image_size": 28},
              train={"optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.05}),
    "M": dict(note="28 px, no augmentation, batch 128, AdamW lr 3e-3, no dropout",
              data={"augment": False, "batch_size": 128, "image_size": 28},
              train={"optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.05}, model={"dropout": 0.0}),
    "N": dict(note="28 px, no augmentation, batch 128, AdamW lr 4e-3",
              data={"augment": False, "batch_size": 128, "image_size": 28},
              train={"optimizer": "adamw", "lr": 4e-3, "weight_decay": 0.05}),
    "O": dict(note="28 px, no augmentation, batch 128, AdamW lr 4e-3, no dropout",
              data={"augment": False, "batch_size": 128, "image_size": 28},
              train={"optimizer": "adamw", "lr": 4e-3, "weight_decay": 0.05}, model={"dropout": 0.0}),
    "P": dict(note="as O, warm-up 5 % of the budget instead of 15 %",
              data={"augment": False, "batch_size": 128, "image_size": 28},
              train={"optimizer": "adamw", "lr": 4e-3, "weight_decay": 0.05, "warmup": 0.05}, model={"dropout": 0.0}),
    "Q": dict(note="M with random crop + flip augmentation",
              data={"augment": True, "batch_size": 128, "image_size": 28},
              train={"optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.05}, model={"dropout": 0.0}),
    "E": dict(note="28 px (native), no augmentation, SGD lr 0.1", data={"augment": False, "image_size": 28},
              train={}),
    "F": dict(note="32 px, no augmentation, no stem BatchNorm (seed exactly)", data={"augment": False}, train={},
              model={"stem_batchnorm": False}),
}


def run(name: str, budget: float) -> dict:
    """Train one candidate for `budget` seconds; return its results row."""
    spec = CANDIDATES[name]
    profile = get_profile("cpu")
    data = load_data(replace(profile.data, **spec["data"]))
    torch.manual_seed(0)
    model = InceptionV1(num_classes=10, in_channels=data.channels, **{**profile.model, **spec.get("model", {})})
    config = replace(profile.train, time_budget=budget, epochs=100, progress=False,
                     out_dir=str(RUNS_DIR / f"recipe-{name}"), **spec["train"])
    start = time.perf_counter()
    history = fit(model, data, config)
    return {"recipe": name, "note": spec["note"], "test_acc": history.last.test_acc,
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
