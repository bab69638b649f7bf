"""Numbers that explain the architecture: map sizes per input size, kernel taps that reach a pixel, parameter savings.

Notebook 01 uses these to say what a 28 x 28 input does to a network designed for 224 x 224, how far
our layers lie from the paper's Table 1, and where GoogLeNet's advantage over AlexNet in parameters
comes from. Every number is computed from real modules, so the prose next to it cannot drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..model import INCEPTION_TABLE, PRESETS, InceptionBlock, InceptionV1, count_parameters
from .analysis import inspecting
from .report import ComparisonRow, trace_shapes

__all__ = [
    "feature_map_sizes", "feature_map_table", "min_input_table", "tap_coverage", "taps_per_position",
    "tap_coverage_table", "UnusedWeights", "unused_kernel_weights", "unused_weights_table",
    "table1_deviations", "ParameterSavings", "parameter_savings", "parameter_savings_table",
]



# ---------------------------------------------------------------- feature-map sizes

def feature_map_sizes(model: InceptionV1, image_sizes: Sequence[int]) -> list[tuple[str, list[tuple[int, ...]]]]:
    """Return [(stage, [output shape without the batch axis, one per image size])] for ``model``'s stages."""
    traces = [trace_shapes(model, torch.zeros(1, model.in_channels, size, size)) for size in image_sizes]
    return [(name, [tuple(trace[i][1][1:]) for trace in traces]) for i, (name, _) in enumerate(traces[0])]


def feature_map_table(model: InceptionV1, image_sizes: Sequence[int] = (224, 28)) -> str:
    """Return a Markdown table: each stage's channels and its H x W at every input size."""
    out = ["| stage | channels | " + " | ".join(f"H x W at {s} x {s} input" for s in image_sizes) + " |",
           "|---|---:|" + "---:|" * len(image_sizes)]
    for name, shapes in feature_map_sizes(model, image_sizes):
        sides = [" x ".join(map(str, shape[1:])) if len(shape) == 3 else "-" for shape in shapes]
        out.append(f"| {name} | {shapes[0][0]} | " + " | ".join(sides) + " |")
    return "\n".join(out)


def min_input_table() -> str:
    """Return a Markdown table of the smallest square input each preset accepts, without and with aux heads."""
    out = ["| preset | smallest input | with auxiliary heads (training mode) |", "|---|---:|---:|"]
    for preset in PRESETS:
        sides = [InceptionV1(num_classes=10, preset=preset, aux_logits=aux).min_input_size for aux in (False, True)]
        out.append(f"| {preset} | " + " | ".join(f"{s} x {s}" for s in sides) + " |")
    return "\n".join(out)


# ---------------------------------------------------------------- kernel taps on small maps

def _tap_hits(kernel: tuple[int, int], height: int, width: int, stride: tuple[int, int] = (1, 1),
              padding: tuple[int, int] | None = None, dilation: tuple[int, int] = (1, 1)) -> torch.Tensor:
    """0/1 matrix [tap, output position]: 1 where the tap lands on an input pixel, 0 where on zero padding."""
    padding = (kernel[0] // 2, kernel[1] // 2) if padding is None else padding
    ones = torch.ones(1, 1, height, width)
    # unfold lays out exactly the values each output position multiplies with each tap, padding included.
    return F.unfold(ones, kernel, dilation=dilation, padding=padding, stride=stride)[0]


def tap_coverage(kernel: int, size: int) -> torch.Tensor:
    """Return a kernel x kernel tensor: at how many output positions each tap of a 'same' conv sees a pixel."""
    return _tap_hits((kernel, kernel), size, size).sum(1).reshape(kernel, kernel).long()


def taps_per_position(kernel: int, size: int) -> torch.Tensor:
    """Return a size x size tensor: how many of a 'same' conv's kernel x kernel taps see a pixel at each output."""
    return _tap_hits((kernel, kernel), size, size).sum(0).reshape(size, size).long()


def tap_coverage_table(kernels: Sequence[int] = (3, 5), sizes: Sequence[int] = (7, 4, 2, 1)) -> str:
    """Return a Markdown table: for 'same' convs on small maps, how many taps ever multiply a real pixel."""
    out = ["| map | kernel | taps on a pixel, per output position | taps that ever see a pixel |",
           "|---|---|---:|---:|"]
    for size in sizes:
        for k in kernels:
            per_position, ever = taps_per_position(k, size), int((tap_coverage(k, size) > 0).sum())
            low, high = int(per_position.min()), int(per_position.max())
            span = f"{low}" if low == high else f"{low} to {high}"
            out.append(f"| {size} x {size} | {k}x{k} | {span} of {k * k} | {ever} of {k * k} |")
    return "\n".join(out)


@dataclass(frozen=True)
class UnusedWeights:
    """One convolution at one input size: its weights and how many of them only ever multiply zero padding."""

    layer: str
    map_size: tuple[int, int]
    kernel: tuple[int, int]
    weights: int
    unused: int


def unused_kernel_weights(model: InceptionV1, image_size: int) -> list[UnusedWeights]:
    """Return an UnusedWeights row for every Conv2d that runs when ``model`` sees one image_size x image_size input."""
    seen: dict[str, tuple[nn.Conv2d, tuple[int, int]]] = {}  # in execution order

    def recorder(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            seen[name] = (module, tuple(args[0].shape[-2:]))
        return hook

    hooks = [(m, recorder(name)) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    param = next(model.parameters())
    with inspecting(model, hooks):
        model(torch.zeros(1, model.in_channels, image_size, image_size, dtype=param.dtype, device=param.device))
    rows = []
    for name, (conv, (height, width)) in seen.items():
        hits = _tap_hits(conv.kernel_size, height, width, conv.stride, conv.padding, conv.dilation)
        dead_taps = int((hits.sum(1) == 0).sum())
        per_tap = conv.weight.shape[0] * conv.weight.shape[1]  # out_channels x in_channels / groups
        rows.append(UnusedWeights(name, (height, width), conv.kernel_size, conv.weight.numel(), dead_taps * per_tap))
    return rows


def unused_weights_table(model: InceptionV1, image_size: int) -> str:
    """Return a Markdown table of the convolutions with weights that never see a pixel, with a total row."""
    rows = [r for r in unused_kernel_weights(model, image_size) if r.unused]
    out = ["| layer | input map | kernel | weights | never see a pixel |", "|---|---|---|---:|---:|"]
    out += [f"| {r.layer} | {r.map_size[0]} x {r.map_size[1]} | {r.kernel[0]}x{r.kernel[1]} | {r.weights:,} "
            f"| {r.unused:,} ({r.unused / r.weights:.0%}) |" for r in rows]
    unused, total = sum(r.unused for r in rows), count_parameters(model)
    out.append(f"| **total** | | | {total:,} (whole model) | **{unused:,} ({unused / total:.1%})** |")
    return "\n".join(out)


# ---------------------------------------------------------------- the paper's Table 1

def table1_deviations(rows: Sequence[ComparisonRow]) -> dict[str, dict[str, float]]:
    """Return {"multiply-adds"|"parameters": {stage: ours / paper - 1}} for the rows without a known discrepancy."""
    clean = [r for r in rows if not r.note]
    return {"multiply-adds": {r.stage: r.ours_macs / r.paper_ops - 1 for r in clean},
            "parameters": {r.stage: r.ours_params / r.paper_params - 1 for r in clean}}


# ---------------------------------------------------------------- where the parameters went

@dataclass(frozen=True)
class ParameterSavings:
    """Parameter counts behind "GoogLeNet has fewer parameters than AlexNet", all from real modules."""

    googlenet: int              # the model as built (no auxiliary heads)
    reductions_saving: int      # nine reduction-free blocks (pool projection kept) minus the real ones
    pooling_saving: int         # a linear layer on the flattened last map minus the one after global pooling
    last_map: tuple[int, int, int]  # C x H x W that global average pooling reduces to C
    alexnet: int                # torchvision's AlexNet
    alexnet_fully_connected: int    # ... of which in its three nn.Linear layers


def parameter_savings(preset: str = "seed", num_classes: int = 1000, image_size: int = 224) -> ParameterSavings:
    """Return the ParameterSavings of a GoogLeNet preset at ``image_size`` against torchvision's AlexNet."""
    from torchvision.models import alexnet  # loaded when asked: torchvision's model zoo is slow to import

    spec = PRESETS[preset]
    model = InceptionV1(num_classes=num_classes, preset=preset)
    shapes = dict(trace_shapes(model, torch.zeros(1, 3, image_size, image_size)))
    _, height, width = shapes["inception5a"][1:]  # the last map before the pool (seed: 5b includes the pool)
    last_map = (model.classifier.in_features, height, width)
    with torch.device("meta"):  # counting only: no memory, no initialisation
        naive = sum(count_parameters(InceptionBlock(*sizes, batchnorm=spec.batchnorm, conv_bias=spec.conv_bias,
                                          bn_eps=spec.bn_eps, five_kernel=spec.five_kernel, reductions=False))
                    for sizes in INCEPTION_TABLE.values())
        flat_head = count_parameters(nn.Linear(last_map[0] * height * width, num_classes))
        reference = alexnet(weights=None, num_classes=num_classes)
    blocks = sum(count_parameters(getattr(model, name)) for name in INCEPTION_TABLE)
    return ParameterSavings(
        googlenet=count_parameters(model), reductions_saving=naive - blocks,
        pooling_saving=flat_head - count_parameters(model.classifier),
        last_map=last_map, alexnet=count_parameters(reference),
        alexnet_fully_connected=sum(count_parameters(m) for m in reference.modules() if isinstance(m, nn.Linear)))


def parameter_savings_table(savings: ParameterSavings) -> str:
    """Return a Markdown table: AlexNet, GoogLeNet, and GoogLeNet without each of its two savings."""
    s = savings
    c, h, w = s.last_map
    rows = [
        ("AlexNet (torchvision's `alexnet`)", s.alexnet),
        ("... of which its three fully connected layers", s.alexnet_fully_connected),
        ("GoogLeNet as built", s.googlenet),
        ("GoogLeNet without the 1x1 reductions (reduction-free blocks)", s.googlenet + s.reductions_saving),
        (f"GoogLeNet with a linear layer on the {c} x {h} x {w} map instead of global average pooling",
         s.googlenet + s.pooling_saving),
        ("GoogLeNet without either", s.googlenet + s.reductions_saving + s.pooling_saving),
    ]
    out = ["| model | parameters | vs AlexNet |", "|---|---:|---:|"]
    out += [f"| {name} | {count:,} | {count / s.alexnet:.0%} |" for name, count in rows]
    return "\n".join(out)
