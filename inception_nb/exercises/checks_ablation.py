"""Checks for exercise 5: the ablation of the 1x1 reductions (the naive model, its cost and accuracy)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from ..engine import test as evaluate
from ..model import INCEPTION_TABLE, InceptionBlock, InceptionV1
from ..report import module_cost
from .checks import _count, _fail, _number, _ok, _run, _seeded, _training_steps

# ----------------------------------------------------------------------------- exercise 5: ablation

def _naive_reference(num_classes: int, in_channels: int) -> InceptionV1:
    model = InceptionV1(num_classes=num_classes, in_channels=in_channels, stem_batchnorm=True)
    for name, row in INCEPTION_TABLE.items():
        if name == "inception5b":
            model.inception5b[0] = InceptionBlock(*row, reductions=False)
        else:
            setattr(model, name, InceptionBlock(*row, reductions=False))
    return model


def check_naive_model(fn: Callable) -> None:
    """Check naive_googlenet(num_classes, in_channels): every Inception block without its 1x1 reductions."""
    with _seeded():
        model = _run("naive_googlenet(7, 1)", fn, 7, 1)
        if not isinstance(model, InceptionV1):
            _fail(f"naive_googlenet returned {type(model).__name__}", "start from InceptionV1(...) and return it")
        want = {n: _count(c) for n, c in _naive_reference(7, 1).named_children()}
        usual = {n: _count(c) for n, c in InceptionV1(num_classes=7, in_channels=1).named_children()}
        for name, count in ((n, _count(c)) for n, c in model.named_children()):
            if count == want.get(name, count):
                continue
            hint = ("start from InceptionV1(num_classes=num_classes, in_channels=in_channels, stem_batchnorm=True)"
                    if name.startswith("conv") or name == "classifier" else "replace it with "
                    "InceptionBlock(*INCEPTION_TABLE[name], reductions=False)")
            if name == "inception5b" and count == usual[name]:
                hint = "in the seed preset inception5b is nn.Sequential(block, pool, dropout): set model.inception5b[0]"
            state = " (it still has its 1x1 reductions)" if name in INCEPTION_TABLE and count == usual[name] else ""
            _fail(f"{name} has {count:,} parameters{state}, expected {want[name]:,}", hint)
        with torch.no_grad():
            try:
                out = model.eval()(torch.zeros(1, 1, 64, 64))
            except RuntimeError as e:
                out = e
        if not isinstance(out, torch.Tensor) or out.shape != (1, 7):
            _fail(f"the model fails on a 1 x 1 x 64 x 64 image ({out})", "keep inception5b's average pool and "
                  "dropout: replace only the block inside it, model.inception5b[0]")
    _ok(f"naive_googlenet: all nine blocks without 1x1 reductions, {_count(model):,} parameters for 7 classes")


@functools.lru_cache(maxsize=1)
def _ablation_costs() -> dict:
    with _seeded():
        models = {"with_reductions": InceptionV1(num_classes=10, in_channels=1, stem_batchnorm=True),
                  "naive": _naive_reference(10, 1)}
        return {name: module_cost(m, (1, 1, 32, 32)) for name, m in models.items()}


def _check_result_numbers(result: dict, costs: dict) -> dict:
    """Check the shape of result and its cost numbers against the recomputed costs; return its numbers."""
    numbers = {}
    for key in ("params", "macs", "accuracy", "images_seen"):
        part = result.get(key) if isinstance(result, dict) else None
        if not isinstance(part, dict) or set(costs) - set(part):
            _fail(f"result[{key!r}] should map 'with_reductions' and 'naive' to numbers, got {part!r}",
                  "run the cells above (cost and training) first, then build result again")
        got = numbers[key] = {v: _number(part[v], f"result[{key!r}][{v!r}]") for v in costs}
        if key == "accuracy":
            bad = [v for v, a in got.items() if not 0 <= a <= 1]
            if bad:
                _fail(f"accuracy {got[bad[0]]} is outside [0, 1]", "give accuracy as a fraction (0.81, not 81): "
                      "history.last.test_acc is one")
        if key in ("accuracy", "images_seen"):
            continue
        want = {v: costs[v][key] for v in costs}
        if got == want:
            continue
        if got == {"with_reductions": want["naive"], "naive": want["with_reductions"]}:
            _fail(f"result[{key!r}] has the two variants swapped", "'naive' is the model without 1x1 reductions")
        _fail(f"result[{key!r}] = {got} does not match the models", "measure each model with module_cost(model, "
              "(1, 1, 32, 32)): one 1-channel 32 x 32 image, the size the models train on")
    return numbers


def check_ablation(result: dict, models: dict, data) -> None:
    """Check the ablation's measurements: costs recomputed, accuracy and images against the student's own run."""
    costs = _ablation_costs()
    numbers = _check_result_numbers(result, costs)
    if not isinstance(models, dict) or set(costs) - set(models):
        _fail(f"models should map 'with_reductions' and 'naive' to the trained networks, got {models!r}",
              "pass the models dict the notebook built and trained")
    batch, test_images = data.train.batch_size, len(data.test.dataset)
    for variant, params in ((v, costs[v]["params"]) for v in costs):
        model = models[variant]
        if not isinstance(model, nn.Module) or _count(model) != params:
            _fail(f"models[{variant!r}] is not the {variant} network of {params:,} parameters",
                  "pass the models dict the notebook built and trained")
        steps, seen = _training_steps(model) or 0, numbers["images_seen"][variant]
        if steps == 0:
            _fail(f"models[{variant!r}] has not been trained", "run the training cell (fit) before building result")
        if not 0 < seen <= steps * batch or seen % batch:
            _fail(f"result['images_seen'][{variant!r}] = {seen:,.0f}, but models[{variant!r}] took {steps} training "
                  f"steps of {batch} images", "record history.images_seen of this model's own run (after running "
                  "the notebook again from the top if you changed a cell above)")
        # fit's last evaluation used these very weights; recomputed here, it may differ by one borderline image.
        recomputed, _ = evaluate(data.test, model, nn.CrossEntropyLoss())
        claimed = numbers["accuracy"][variant]
        if abs(claimed - recomputed) > 1.5 / test_images:
            _fail(f"result['accuracy'][{variant!r}] = {claimed:.4f}, but models[{variant!r}] gets {recomputed:.4f} of "
                  f"the {test_images:,} test images right", "report history.last.test_acc of this model's own "
                  "run, not a number typed in")
    p, m = (costs["naive"][k] / costs["with_reductions"][k] for k in ("params", "macs"))
    acc, seen = numbers["accuracy"], numbers["images_seen"]
    _ok(f"without reductions: {p:.1f}x the parameters, {m:.1f}x the multiply-adds; in the same time budget "
        f"{seen['naive']:,.0f} training images and {acc['naive']:.1%} test accuracy, against "
        f"{seen['with_reductions']:,.0f} and {acc['with_reductions']:.1%} with reductions")
