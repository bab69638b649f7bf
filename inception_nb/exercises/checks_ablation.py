"""Checks for exercise 5: the ablation of the 1x1 reductions (the naive model, its cost and accuracy)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from ..data import DataConfig, load_data
from ..lesson.report import module_cost
from ..loops import test as evaluate
from ..model import INCEPTION_TABLE, InceptionBlock, InceptionV1
from .checks import _count, _fail, _number, _ok, _run, _seeded, _training_steps, guard
from .messages import say

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
        model = _run("naive_googlenet(7, 1)", fn, 7, 1, allowed=(InceptionV1,))
        if not isinstance(model, InceptionV1):
            _fail(say("naive.not_model", type_name=type(model).__name__), say("naive.not_model.hint"))
        want = {n: _count(c) for n, c in _naive_reference(7, 1).named_children()}
        usual = {n: _count(c) for n, c in InceptionV1(num_classes=7, in_channels=1).named_children()}
        for name, count in ((n, _count(c)) for n, c in model.named_children()):
            if count == want.get(name, count):
                continue
            hint = "naive.hint_start" if name.startswith("conv") or name == "classifier" else "naive.hint_replace"
            if name == "inception5b" and count == usual[name]:
                hint = "naive.hint_5b"
            state = say("naive.still_reduced") if name in INCEPTION_TABLE and count == usual[name] else ""
            _fail(say("naive.params", name=name, count=count, state=state, want=want[name]), say(hint))
        with torch.no_grad():
            try:
                out = model.eval()(torch.zeros(1, 1, 64, 64))
            except RuntimeError as e:
                out = e
        if not isinstance(out, torch.Tensor) or out.shape != (1, 7):
            _fail(say("naive.fails", error=out), say("naive.fails.hint"))
    _ok(say("naive.ok", params=_count(model)))


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
            _fail(say("ablation.result_shape", key=key, part=part), say("ablation.result_shape.hint"))
        got = numbers[key] = {v: _number(part[v], f"result[{key!r}][{v!r}]") for v in costs}
        if key == "accuracy":
            bad = [v for v, a in got.items() if not 0 <= a <= 1]
            if bad:
                _fail(say("ablation.accuracy_range", value=got[bad[0]]), say("ablation.accuracy_range.hint"))
        if key in ("accuracy", "images_seen"):
            continue
        want = {v: costs[v][key] for v in costs}
        if got == want:
            continue
        if got == {"with_reductions": want["naive"], "naive": want["with_reductions"]}:
            _fail(say("ablation.swapped", key=key), say("ablation.swapped.hint"))
        _fail(say("ablation.cost", key=key, got=got), say("ablation.cost.hint"))
    return numbers


def _grader_split(data):
    """Return test images the grader picks itself: as many as data.test holds, another seeded subset."""
    return _grader_test(len(data.test.dataset), data.image_size, data.channels)


@functools.lru_cache(maxsize=2)
def _grader_test(size: int, image_size: int, channels: int):
    config = DataConfig(image_size=image_size, channels=channels, batch_size=min(256, size), limit=size, seed=20260)
    return load_data(config).test


def _check_own_split(variant: str, model: nn.Module, claimed: float, grader_test) -> None:
    """Fail when the accuracy on the grader's own test images is far from the one measured on data.test."""
    own, _ = evaluate(grader_test, model, nn.CrossEntropyLoss())
    images = len(grader_test.dataset)
    # two samples of the same test distribution: their accuracies differ by a few binomial standard deviations
    if abs(own - claimed) > max(0.1, 2.5 / images ** 0.5):
        _fail(say("ablation.own_split", variant=variant, claimed=claimed, own=own, images=images),
              say("ablation.own_split.hint"))


def check_ablation(result: dict, models: dict, data) -> None:
    """Check the ablation's measurements: costs recomputed, accuracy and images against the student's own run.

    Each model must be the handout's InceptionV1 as trained, and score on the grader's own test images
    (another seeded subset) what it scores on data.test: a model that memorised data.test does not.
    """
    guard()
    costs = _ablation_costs()
    numbers = _check_result_numbers(result, costs)
    if not isinstance(models, dict) or set(costs) - set(models):
        _fail(say("ablation.models", models=models), say("ablation.models.hint"))
    batch, test_images = data.train.batch_size, len(data.test.dataset)
    grader_test = _grader_split(data)
    for variant, params in ((v, costs[v]["params"]) for v in costs):
        model = models[variant]
        if not isinstance(model, nn.Module) or _count(model) != params:
            _fail(say("ablation.model", variant=variant, params=params), say("ablation.models.hint"))
        if type(model) is not InceptionV1 or "forward" in vars(model):  # a wrapper or a replaced forward
            _fail(say("ablation.not_inception", variant=variant, type_name=type(model).__name__),
                  say("ablation.models.hint"))
        steps, seen = _training_steps(model) or 0, numbers["images_seen"][variant]
        if steps == 0:
            _fail(say("ablation.untrained", variant=variant), say("ablation.untrained.hint"))
        if not 0 < seen <= steps * batch or seen % batch:
            _fail(say("ablation.images", variant=variant, seen=seen, steps=steps, batch=batch),
                  say("ablation.images.hint"))
        # fit's last evaluation used these very weights; recomputed here, it may differ by one borderline image.
        recomputed, _ = evaluate(data.test, model, nn.CrossEntropyLoss())
        claimed = numbers["accuracy"][variant]
        if abs(claimed - recomputed) > 1.5 / test_images:
            _fail(say("ablation.accuracy", variant=variant, claimed=claimed, recomputed=recomputed,
                      images=test_images), say("ablation.accuracy.hint"))
        _check_own_split(variant, model, claimed, grader_test)
    p, m = (costs["naive"][k] / costs["with_reductions"][k] for k in ("params", "macs"))
    acc, seen = numbers["accuracy"], numbers["images_seen"]
    _ok(say("ablation.ok", params_ratio=p, macs_ratio=m, naive_seen=seen["naive"], naive_accuracy=acc["naive"],
            seen=seen["with_reductions"], accuracy=acc["with_reductions"]))
