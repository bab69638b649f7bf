"""Checks for exercises 1 (writing the Inception block) and 2 (counting its channels, parameters, multiply-adds)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

from ..model import INCEPTION_TABLE, InceptionBlock
from .checks import _copy_state, _count, _fail, _number, _ok, _refuse_package_modules, _run, _seeded, guard
from .messages import say

# ----------------------------------------------------------------------------- exercise 1: the block

_ROW = (12, 5, 3, 7, 2, 4, 6)  # a small Table 1 row whose sizes all differ, so mixed-up arguments show
_NAMES = ("branch1 (1x1)", "branch2 (1x1 -> 3x3)", "branch3 (1x1 -> 5x5)", "branch4 (pool -> 1x1)")
_LAYOUT = ("block.layout1", "block.layout2", "block.layout3", "block.layout4")  # message keys, one per branch


def _branches(block: nn.Module) -> list:
    return [getattr(block, f"branch{i}", None) for i in range(1, 5)]


def check_inception_block(cls: Callable[..., nn.Module]) -> None:
    """Check an Inception block class against the package's InceptionBlock: structure, then outputs."""
    with _seeded():
        block = _run(f"{getattr(cls, '__name__', 'the block')}{_ROW}", cls, *_ROW)
        if not isinstance(block, nn.Module):
            _fail(say("block.not_module", type_name=type(block).__name__), say("hint.subclass"))
        _refuse_package_modules(block, getattr(cls, "__name__", "the block"))
        missing = [f"branch{i}" for i, b in enumerate(_branches(block), 1) if not isinstance(b, nn.Module)]
        if missing:
            _fail(say("block.missing_branches", names=", ".join(missing)), say("block.missing_branches.hint"))
        counts = [_count(b) for b in _branches(block)]
        refs = [InceptionBlock(*_ROW, conv_bias=bias) for bias in (True, False)]  # bias=False is fine too
        ref = next((r for r in refs if [_count(b) for b in _branches(r)] == counts), None)
        if ref is None:
            k = next(i for i in range(4) if counts[i] != _count(_branches(refs[0])[i]))
            want, bn = _count(_branches(refs[0])[k]), sum(_count(m) for m in _branches(refs[0])[k].modules()
                                                          if isinstance(m, nn.BatchNorm2d))
            hint = say(_LAYOUT[k])
            if counts[k] in (want - bn, want - bn - bn // 2):
                hint = say("block.bn_missing", layout=hint)
            _fail(say("block.param_count", name=_NAMES[k], count=counts[k], row=_ROW, want=want), hint)
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
                size = tuple(_run(say("block.branch_input", name=name), branch, x).shape[-2:])
                if size != (6, 6):
                    _fail(say("block.size", name=name, height=size[0], width=size[1]), say("block.size.hint"))
            out = _run(say("block.forward"), block, x, hint=say("block.forward.hint"))
        want = torch.cat(parts, 1)
        if not isinstance(out, torch.Tensor) or out.shape != want.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            _fail(say("block.shape", shape=tuple(x.shape), got=got, want=tuple(want.shape)), say("block.shape.hint"))
        if not torch.allclose(out, want, atol=1e-5):
            if (out < 0).any():
                _fail(say("block.negative"), say("block.negative.hint"))
            sizes = [p.shape[1] for p in parts]
            for order in itertools.permutations(range(4)):
                chunks = out.split([sizes[i] for i in order], 1)
                if all(torch.allclose(c, parts[i], atol=1e-5) for c, i in zip(chunks, order)):
                    _fail(say("block.order", order=", ".join(_NAMES[i] for i in order)), say("block.order.hint"))
            k = next(i for i, c in enumerate(out.split(sizes, 1)) if not torch.allclose(c, parts[i], atol=1e-5))
            _fail(say("block.differs", name=_NAMES[k]), say("block.differs.hint", layout=say(_LAYOUT[k])))
        big = _count(_run(say("block.build3a"), cls, *INCEPTION_TABLE["inception3a"]))
    _ok(say("block.ok", name=cls.__name__, params=big))


# ----------------------------------------------------------------------------- exercise 2: arithmetic

def _arithmetic_key_hints(block: nn.Module, naive: nn.Module) -> dict:
    """Return {answer key: {wrong value: hint}} for the usual slips in counting a block."""
    hints: dict = {"branch_channels": {}, "out_shape": {}}
    for i, branch in enumerate(_branches(block), 1):
        convs = [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
        w = sum(c.weight.numel() for c in convs)
        b = sum(c.out_channels for c in convs)
        hints[f"branch{i}_params"] = {
            w: say("arith.weights_only"),
            w + b: say("arith.add_bn"),
            w + 2 * b: say("arith.add_bias"),
            w + 5 * b: say("arith.buffers"),
        }
        if i in (2, 3):
            hints[f"branch{i}_params"][_count(_branches(naive)[i - 1])] = say("arith.reduction_first")
    return hints


def check_block_arithmetic(answers: dict) -> None:
    """Check hand-computed channels, shape, parameters and multiply-adds of inception (3a) against the module."""
    guard()
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
        _fail(say("arith.not_dict", type_name=type(answers).__name__), say("arith.not_dict.hint"))
    missing = [k for k in expected if k not in answers]
    if missing:
        _fail(say("arith.missing", keys=", ".join(map(repr, missing))), say("arith.missing.hint"))
    hints = _arithmetic_key_hints(block, naive)
    hints["total_macs"] = {cost["macs"] // (28 * 28): say("arith.one_position"), 2 * cost["macs"]: say("arith.flops")}
    for key, want in expected.items():
        got = answers[key]
        if hasattr(got, "tolist") and getattr(got, "ndim", 0) == 1:
            got = got.tolist()  # a numpy array or tensor of answers: its numbers
        _number(got, f"answers[{key!r}]") if got is ... else None  # a clear message for an unfilled answer
        if isinstance(want, (list, tuple)):
            if not isinstance(got, (list, tuple)) or len(got) != len(want):
                _fail(say("arith.count", key=key, count=len(want), got=got),
                      say("arith.count.shape" if key == "out_shape" else "arith.count.branches"))
            got = [int(_number(v, f"answers[{key!r}][{i}]")) for i, v in enumerate(got)]
            if got == list(want):
                continue
            if key == "branch_channels" or got[0] != want[0]:
                with_reductions = sum(channels) + row[2] + row[4]
                _fail(say("arith.wrong_list", key=key, got=got), say(
                    "arith.last_conv" if {with_reductions, row[2], row[4]} & set(got) else "arith.stack"))
            _fail(say("arith.wrong_list", key=key, got=got), say("arith.keep28"))
        value = _number(got, f"answers[{key!r}]")
        if value != want:
            fallback = {"total_params": "arith.total_params", "total_macs": "arith.total_macs",
                        "naive_branch2_params": "arith.naive_branch2"}.get(key, "arith.default")
            _fail(say("arith.wrong", key=key, value=value), hints.get(key, {}).get(int(value), say(fallback)))
    _ok(say("arith.ok", count=len(expected), channels=sum(channels), params=cost["params"], macs=cost["macs"]))

