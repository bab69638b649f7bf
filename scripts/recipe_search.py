"""Train candidate CPU recipes for the same time budget (or number of epochs) and print one table row each.

Used to choose the `cpu` profile (docs/performance.md); run on an otherwise idle machine:
    python scripts/recipe_search.py --budget 300 A B C
    python scripts/recipe_search.py --epochs 2 --seeds 0 1 2 --ema 0.99 M R S   # notebook 02's length

Each row also reports two things the recipe does not use, measured on the same trained weights: an
exponential moving average of the weights (`--ema`), and test-time flips (the mean of the softmax of
each test image and its mirror image).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from inception_nb.config import DataConfig, ModelConfig, TrainConfig, get_profile
from inception_nb.data import FASHION_MNIST_SIZE, load_data
from inception_nb.loops import test
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
NEAR_CPU = {"L", "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X"}
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
    "R": dict(note="M with batches of 96", data={"batch_size": 96}, train={}),
    "S": dict(note="M with batches of 64, lr 2e-3", data={"batch_size": 64}, train={"lr": 2e-3}),
    "T": dict(note="M with label smoothing 0.05", data={}, train={"label_smoothing": 0.05}),
    "U": dict(note="M with weight decay 0.1", data={}, train={"weight_decay": 0.1}),
    "V": dict(note="M with a 25 % warm-up", data={}, train={"warmup": 0.25}),
    "W": dict(note="M with the auxiliary classifiers (weight 0.3)", data={}, train={}, model={"aux_logits": True}),
    "X": dict(note="M with batches of 256", data={"batch_size": 256}, train={}),
}


def recipe(name: str) -> tuple[DataConfig, TrainConfig, ModelConfig]:
    """Return the (DataConfig, TrainConfig, ModelConfig) of one candidate."""
    spec = CANDIDATES[name]
    data, train, model = (CPU.data, CPU.train, CPU.model) if name in NEAR_CPU else (BASE_DATA, BASE_TRAIN,
                                                                                     BASE_MODEL)
    return (replace(data, **spec["data"]), replace(train, **spec["train"]), replace(model, **spec.get("model", {})))


def floating_tensors(model: nn.Module) -> list[torch.Tensor]:
    """The model's floating-point weights and buffers (BatchNorm's step counters are integers)."""
    return [t for t in model.state_dict().values() if t.dtype.is_floating_point]


class WeightAverage:
    """An exponential moving average of a model's floating-point weights and buffers, updated after every step."""

    def __init__(self, model: nn.Module, decay: float):
        self.model, self.decay, self.steps, self.average = model, decay, 0, None
        # A global hook: fit builds its optimizer itself, and this script should not need a way into it.
        self.handle = register_optimizer_step_post_hook(self.update)

    @torch.no_grad()
    def update(self, *_) -> None:
        self.steps += 1
        if self.average is None:
            self.average = [t.detach().clone() for t in floating_tensors(self.model)]
            return
        # The usual warm-up of the decay, so the first, random weights do not linger in a short run.
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for average, current in zip(self.average, floating_tensors(self.model)):
            average.lerp_(current, 1 - decay)

    def averaged_model(self) -> nn.Module:
        self.handle.remove()
        averaged = copy.deepcopy(self.model)
        with torch.no_grad():
            for target, average in zip(floating_tensors(averaged), self.average):
                target.copy_(average)
        return averaged


class MirrorAverage(nn.Module):
    """Test-time flips: the log of the mean softmax of each image and its mirror image, usable as logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return ((self.model(images).softmax(1) + self.model(images.flip(3)).softmax(1)) / 2).log()


def evaluate_accuracy(model: nn.Module, data) -> float:
    """Test accuracy in float32, through the package's own evaluation loop."""
    return test(data.test, model, nn.CrossEntropyLoss(), channels_last=True)[0]


def run(name: str, budget: float | None, epochs: int, seed: int, ema: float) -> dict:
    """Train one candidate for `budget` seconds (None: `epochs` epochs); return its results row."""
    data_config, train_config, model_config = recipe(name)
    data = load_data(data_config)
    torch.manual_seed(seed)
    model = model_config.build(num_classes=10, in_channels=data.channels)
    config = replace(train_config, time_budget=budget, epochs=epochs, seed=seed,
                     progress=False, out_dir=str(RUNS_DIR / f"recipe-{name}"))
    average = WeightAverage(model, ema) if ema else None
    start = time.perf_counter()
    # A search reruns its letters on purpose: each run replaces that letter's previous result.
    history = fit(model, data, config, overwrite=True)
    row = {"recipe": name, "note": CANDIDATES[name]["note"], "seed": seed, "test_acc": history.last.test_acc,
           "best_test_acc": history.best_test_acc, "images_seen": history.images_seen,
           "train_seconds": round(history.seconds, 1), "wall_seconds": round(time.perf_counter() - start, 1),
           "flip_test_acc": evaluate_accuracy(MirrorAverage(model), data)}
    if average is not None:
        row["ema_test_acc"] = evaluate_accuracy(average.averaged_model(), data)
    return row


def main() -> None:
    """Run the named candidates in turn and print a JSON line per result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="+", choices=sorted(CANDIDATES))
    parser.add_argument("--budget", type=float, default=300, help="seconds of training per run")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of a time budget")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (weights and order)")
    parser.add_argument("--ema", type=float, default=0.0, help="also report a weight average with this decay")
    args = parser.parse_args()
    for name in args.names:
        for seed in args.seeds:
            # A time budget stops the run, so its epoch count is only a ceiling.
            row = run(name, None if args.epochs else args.budget, args.epochs or 100, seed, args.ema)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
