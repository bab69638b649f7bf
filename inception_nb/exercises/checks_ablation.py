"""Checks for exercise 5: the ablation of the 1x1 reductions (the naive model, its cost and accuracy)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from ..loops import test as evaluate
from ..model import INCEPTION_TABLE, InceptionBlock, InceptionV1
from ..lesson.report import module_cost
from .checks import _count, _fail, _number, _ok, _run, _seeded, _training_steps
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
        model = _run("naive_googlenet(7, 1)", fn, 7, 1)
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


def check_ablation(result: dict, models: dict, data) -> None:
    """Check the ablation's measurements: costs recomputed, accuracy and images against the student's own run."""
    costs = _ablation_costs()
    numbers = _check_result_numbers(result, costs)
    if not isinstance(models, dict) or set(costs) - set(models):
        _fail(say("ablation.models", models=models), say("ablation.models.hint"))
    batch, test_images = data.train.batch_size, len(data.test.dataset)
    for variant, params in ((v, costs[v]["params"]) for v in costs):
        model = models[variant]
        if not isinstance(model, nn.Module) or _count(model) != params:
            _fail(say("ablation.model", variant=variant, params=params), say("ablation.models.hint"))
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
    p, m = (costs["naive"][k] / costs["with_reductions"][k] for k in ("params", "macs"))
    acc, seen = numbers["accuracy"], numbers["images_seen"]
    _ok(say("ablation.ok", params_ratio=p, macs_ratio=m, naive_seen=seen["naive"], naive_accuracy=acc["naive"],
            seen=seen["with_reductions"], accuracy=acc["with_reductions"]))
