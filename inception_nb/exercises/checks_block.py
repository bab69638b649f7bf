"""Checks for exercises 1 (writing the Inception block) and 2 (counting its channels, parameters, multiply-adds)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

from ..model import INCEPTION_TABLE, InceptionBlock
from .checks import _copy_state, _count, _fail, _number, _ok, _run, _seeded

# ----------------------------------------------------------------------------- exercise 1: the block

_ROW = (12, 5, 3, 7, 2, 4, 6)  # a small Table 1 row whose sizes all differ, so mixed-up arguments show
_NAMES = ("branch1 (1x1)", "branch2 (1x1 -> 3x3)", "branch3 (1x1 -> 5x5)", "branch4 (pool -> 1x1)")
_LAYOUT = ("branch1 is one unit: 1x1 conv to ch1x1, BatchNorm2d, ReLU",
           "branch2 is a 1x1 unit to ch3x3red, then a 3x3 unit (padding=1) to ch3x3; a unit is conv, BatchNorm2d, ReLU",
           "branch3 is a 1x1 unit to ch5x5red, then a 5x5 unit (padding=2) to ch5x5; a unit is conv, BatchNorm2d, ReLU",
           "branch4 is nn.MaxPool2d(3, stride=1, padding=1), then a 1x1 unit (conv, BatchNorm2d, ReLU) to pool_proj")


def _branches(block: nn.Module) -> list:
    return [getattr(block, f"branch{i}", None) for i in range(1, 5)]


def check_inception_block(cls: Callable[..., nn.Module]) -> None:
    """Check an Inception block class against the package's InceptionBlock: structure, then outputs."""
    with _seeded():
        block = _run(f"{getattr(cls, '__name__', 'the block')}{_ROW}", cls, *_ROW)
        if not isinstance(block, nn.Module):
            _fail(f"calling the class returned {type(block).__name__}, not an nn.Module", "subclass nn.Module")
        missing = [f"branch{i}" for i, b in enumerate(_branches(block), 1) if not isinstance(b, nn.Module)]
        if missing:
            _fail(f"the block has no module attribute {', '.join(missing)}",
                  "name the branches self.branch1 ... self.branch4 (1x1, 3x3, 5x5, pool), each an nn.Sequential")
        counts = [_count(b) for b in _branches(block)]
        refs = [InceptionBlock(*_ROW, conv_bias=bias) for bias in (True, False)]  # bias=False is fine too
        ref = next((r for r in refs if [_count(b) for b in _branches(r)] == counts), None)
        if ref is None:
            k = next(i for i in range(4) if counts[i] != _count(_branches(refs[0])[i]))
            want, bn = _count(_branches(refs[0])[k]), sum(_count(m) for m in _branches(refs[0])[k].modules()
                                                          if isinstance(m, nn.BatchNorm2d))
            hint = _LAYOUT[k]
            if counts[k] in (want - bn, want - bn - bn // 2):
                hint = "BatchNorm2d is missing: every conv is followed by BatchNorm2d(out_channels). " + hint
            _fail(f"{_NAMES[k]} has {counts[k]:,} parameters; for the row {_ROW} it should have {want:,}", hint)
        with torch.no_grad():
            for m in ref.modules():  # non-trivial BatchNorm, so a missing ReLU or a swapped layer shows
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5), m.bias.normal_(0, 0.5)
                    m.running_mean.normal_(0, 0.5), m.running_var.uniform_(0.5, 2.0)
            for i, (mine, theirs) in enumerate(zip(_branches(block), _branches(ref))):
                _copy_state(theirs, mine, _NAMES[i])
            x = torch.randn(2, _ROW[0], 6, 6)
            parts = [b(x) for b in _branches(ref.eval())]
            for name, branch in zip(_NAMES, _branches(block.eval())):
                size = tuple(_run(f"{name} on a 2 x 12 x 6 x 6 input", branch, x).shape[-2:])
                if size != (6, 6):
                    _fail(f"{name} turns a 6 x 6 input into {size[0]} x {size[1]}", "pad so every branch keeps "
                          "H x W: 3x3 conv padding=1, 5x5 conv padding=2, max pool stride=1 and padding=1")
            out = _run("the block's forward", block, x, hint="each branch works on its own, so look at how forward "
                       "joins them: torch.cat([...the four branch outputs...], dim=1)")
        want = torch.cat(parts, 1)
        if not isinstance(out, torch.Tensor) or out.shape != want.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(f"for an input of shape {tuple(x.shape)} the block returned {got}, expected {tuple(want.shape)}",
                  "return torch.cat([...the four branch outputs...], dim=1): channels are dimension 1")
        if not torch.allclose(out, want, atol=1e-5):
            if (out < 0).any():
                _fail("the output has negative values", "a ReLU is missing after the last BatchNorm of a branch")
            sizes = [p.shape[1] for p in parts]
            for order in itertools.permutations(range(4)):
                chunks = out.split([sizes[i] for i in order], 1)
                if all(torch.allclose(c, parts[i], atol=1e-5) for c, i in zip(chunks, order)):
                    _fail(f"the branches are concatenated in the order {', '.join(_NAMES[i] for i in order)}",
                          "concatenate in the order branch1, branch2, branch3, branch4 (1x1, 3x3, 5x5, pool)")
            k = next(i for i, c in enumerate(out.split(sizes, 1)) if not torch.allclose(c, parts[i], atol=1e-5))
            _fail(f"{_NAMES[k]} computes something different from the reference with the same weights",
                  _LAYOUT[k] + "; check that no ReLU is missing in between and that the layers come in this order")
        big = _count(_run("building inception (3a)", cls, *INCEPTION_TABLE["inception3a"]))
    _ok(f"{cls.__name__} matches the reference block; inception (3a) built with it has {big:,} parameters")


# ----------------------------------------------------------------------------- exercise 2: arithmetic

def _arithmetic_key_hints(block: nn.Module, naive: nn.Module) -> dict:
    """Return {answer key: {wrong value: hint}} for the usual slips in counting a block."""
    hints: dict = {"branch_channels": {}, "out_shape": {}}
    for i, branch in enumerate(_branches(block), 1):
        convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
        w = sum(c.weight.numel() for c in convs)
        b = sum(c.out_channels for c in convs)
        hints[f"branch{i}_params"] = {
            w: "you counted the conv weights only: add one bias per filter and BatchNorm's 2 parameters per channel",
            w + b: "add BatchNorm's γ and β: 2 parameters per output channel of each conv",
            w + 2 * b: "add the conv biases: one per filter",
            w + 5 * b: "BatchNorm's running mean and variance are buffers, not parameters: count 2 per channel",
        }
        if i in (2, 3):
            hints[f"branch{i}_params"][_count(_branches(naive)[i - 1])] = (
                "this branch starts with its 1x1 reduction: count that conv too, and let the big conv read only "
                "the reduced channels")
    return hints


def check_block_arithmetic(answers: dict) -> None:
    """Check hand-computed channels, shape, parameters and multiply-adds of inception (3a) against the module."""
    row = INCEPTION_TABLE["inception3a"]
    block, naive = InceptionBlock(*row), InceptionBlock(*row, reductions=False)
    convs = [[m for m in b.modules() if isinstance(m, nn.Conv2d)] for b in _branches(block)]
    channels = [c[-1].out_channels for c in convs]
    # Every conv keeps 28 x 28, so its multiply-adds are 28 * 28 times its weight count (module_cost agrees).
    cost = {"params": _count(block), "macs": sum(28 * 28 * c.weight.numel() for c in itertools.chain(*convs))}
    expected: dict = {"branch_channels": channels, "out_shape": (sum(channels), 28, 28)}
    expected.update({f"branch{i}_params": _count(b) for i, b in enumerate(_branches(block), 1)})
    expected.update(total_params=cost["params"], total_macs=cost["macs"], naive_branch2_params=_count(naive.branch2))
    if not isinstance(answers, dict):
        _fail(f"answers should be a dict, got {type(answers).__name__}", "run the answers cell above first")
    missing = [k for k in expected if k not in answers]
    if missing:
        _fail(f"answers has no {', '.join(map(repr, missing))}", "keep every key of the template and fill in its value")
    hints = _arithmetic_key_hints(block, naive)
    hints["total_macs"] = {cost["macs"] // (28 * 28): "that is the cost of one output position: multiply by the "
                           "28 x 28 positions", 2 * cost["macs"]: "that counts FLOPs (2 per multiply-add): count "
                           "each multiply-add once"}
    for key, want in expected.items():
        got = answers[key]
        _number(got, f"answers[{key!r}]") if got is ... else None  # a clear message for an unfilled answer
        if isinstance(want, (list, tuple)):
            if not isinstance(got, (list, tuple)) or len(got) != len(want):
                _fail(f"answers[{key!r}] should be {len(want)} numbers, got {got!r}",
                      "C, H, W of one image (no batch dimension)" if key == "out_shape" else "one number per branch")
            got = [int(_number(v, f"answers[{key!r}][{i}]")) for i, v in enumerate(got)]
            if got == list(want):
                continue
            if key == "branch_channels" or got[0] != want[0]:
                with_reductions = sum(channels) + row[2] + row[4]
                _fail(f"answers[{key!r}] = {got} is not right",
                      "the reductions (#3x3 reduce, #5x5 reduce) only feed the 3x3 and 5x5 convs: a branch outputs "
                      "the channels of its LAST conv" if {with_reductions, row[2], row[4]} & set(got) else
                      "the output stacks the four branches' channels: #1x1 + #3x3 + #5x5 + pool proj")
            _fail(f"answers[{key!r}] = {got} is not right", "every branch keeps 28 x 28: the 3x3 conv pads by 1, "
                  "the 5x5 by 2 and the 3x3 max pool (stride 1) by 1")
        value = _number(got, f"answers[{key!r}]")
        if value != want:
            hint = hints.get(key, {}).get(int(value), {
                "total_params": "add up the four branch counts (the max pool has no parameters)",
                "total_macs": "per conv: H_out x W_out x in x out x k x k multiply-adds; biases and BatchNorm are "
                              "not counted", "naive_branch2_params": "without the reduction, branch2 is one 3x3 "
                              "unit reading all 192 input channels: weights + biases + 2 x 128 BatchNorm",
            }.get(key, "per conv: in x out x k x k weights + out biases; per BatchNorm: 2 x channels"))
            _fail(f"answers[{key!r}] = {value:,.0f} is not right", hint)
    _ok(f"all {len(expected)} answers match inception (3a): {sum(channels)} x 28 x 28, {cost['params']:,} "
        f"parameters, {cost['macs']:,} multiply-adds")

