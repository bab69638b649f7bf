"""Per-layer output shapes, parameters and multiply-adds, and how they compare to the paper's Table 1."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from .analysis import inspecting

__all__ = [
    "LayerRow", "LayerReport", "layer_report", "PaperRow", "PAPER_TABLE1", "ComparisonRow",
    "paper_comparison", "comparison_to_markdown", "torchsummary_table", "trace_shapes", "module_cost",
]


@dataclass(frozen=True)
class LayerRow:
    """One top-level layer or block: output shape C x H x W (None if it did not run), parameters, MACs."""

    name: str
    output_shape: tuple[int, ...] | None
    params: int
    macs: int


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else " x ".join(map(str, shape))


@dataclass(frozen=True)
class LayerReport:
    """Rows in execution order for one C x H x W input, with totals for the whole model."""

    input_size: tuple[int, int, int]
    rows: list[LayerRow]
    total_params: int
    total_macs: int

    def __getitem__(self, name: str) -> LayerRow:
        """Return the row of the layer called ``name``."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no layer {name!r} in the report; layers are {[r.name for r in self.rows]}")

    def _table(self) -> list[tuple[str, str, str, str]]:
        lines = [(r.name, _shape_text(r.output_shape), f"{r.params:,}", f"{r.macs:,}") for r in self.rows]
        lines.append(("total", "", f"{self.total_params:,}", f"{self.total_macs:,}"))
        return lines

    def to_markdown(self) -> str:
        """Return the report as a Markdown table."""
        out = [f"Input: {_shape_text(self.input_size)}", "",
               "| layer | output shape | params | multiply-adds |", "|---|---|---:|---:|"]
        out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in self._table()]
        return "\n".join(out)

    def __str__(self) -> str:
        """Return the report as a fixed-width text table."""
        header = ("layer", "output shape", "params", "multiply-adds")
        lines = [header, *self._table()]
        widths = [max(len(line[i]) for line in lines) for i in range(4)]

        def fmt(line: Sequence[str]) -> str:
            return f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]:>{widths[2]}}  {line[3]:>{widths[3]}}"

        rule = "-" * len(fmt(header))
        return "\n".join([f"Input: {_shape_text(self.input_size)}", fmt(header), rule,
                          *map(fmt, lines[1:-1]), rule, fmt(lines[-1])])


def _input_size(model: nn.Module, input_size: int | Sequence[int]) -> tuple[int, int, int]:
    channels = getattr(model, "in_channels", 3)
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        size = (channels, input_size, input_size)
    elif isinstance(input_size, (tuple, list)) and len(input_size) == 3:
        size = tuple(input_size)
    else:
        raise ValueError(f"input_size must be an int (square side) or a (C, H, W) tuple, got {input_size!r}; "
                         "e.g. layer_report(model, 224)")
    if not all(isinstance(v, int) and v >= 1 for v in size):
        raise ValueError(f"input_size must hold positive integers, got {input_size!r}")
    if size[0] != channels:
        raise ValueError(f"input_size has {size[0]} channels but the model takes {channels}; "
                         f"pass ({channels}, H, W) or just the side length")
    return size  # type: ignore[return-value]


def layer_report(model: nn.Module, input_size: int | Sequence[int]) -> LayerReport:
    """Return a LayerReport of ``model``'s top-level layers for one image of ``input_size`` (eval mode)."""
    size = _input_size(model, input_size)
    param = next(model.parameters())
    shapes: dict[str, tuple[int, ...]] = {}  # filled in execution order by the hooks

    def recorder(name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            shapes[name] = tuple(output.shape[1:])
        return hook

    counter = FlopCounterMode(display=False)
    # eval mode: the inference cost, with auxiliary heads and dropout off
    with inspecting(model, [(child, recorder(name)) for name, child in model.named_children()]), counter:
        model(torch.zeros(1, *size, dtype=param.dtype, device=param.device))

    # Keys look like "InceptionV1.inception3a"; the first part is the root module's class name.
    flops = {key.split(".", 1)[1]: sum(ops.values()) for key, ops in counter.get_flop_counts().items()
             if "." in key}
    children = dict(model.named_children())
    ran = [name for name in shapes]
    idle = [name for name, child in children.items() if name not in shapes and any(True for _ in child.parameters())]
    rows = [LayerRow(name, shapes.get(name), _count(children[name]),
                     flops.get(name, 0) // 2)  # a multiply-add is two flops
            for name in ran + idle]
    return LayerReport(size, rows, _count(model), counter.get_total_flops() // 2)


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Table 1: params as printed (thousands), ops as printed (millions)."""

    name: str
    params_k: float
    ops_m: float


# Szegedy et al. 2015, Table 1 ("GoogLeNet incarnation of the Inception architecture"), rows with ops.
PAPER_TABLE1: list[PaperRow] = [
    PaperRow("convolution 7x7/2", 2.7, 34),
    PaperRow("convolution 3x3/1", 112, 360),
    PaperRow("inception (3a)", 159, 128),
    PaperRow("inception (3b)", 380, 304),
    PaperRow("inception (4a)", 364, 73),
    PaperRow("inception (4b)", 437, 88),
    PaperRow("inception (4c)", 463, 100),
    PaperRow("inception (4d)", 580, 119),
    PaperRow("inception (4e)", 840, 170),
    PaperRow("inception (5a)", 1072, 54),
    PaperRow("inception (5b)", 1388, 71),
    PaperRow("linear", 1000, 1),
]

# Our layers behind each paper row; the paper's 3x3 stage includes its 1x1 reduction (our conv2).
_PAPER_STAGE_LAYERS: dict[str, tuple[str, ...]] = {
    "convolution 7x7/2": ("conv1",),
    "convolution 3x3/1": ("conv2", "conv3"),
    **{f"inception ({s})": (f"inception{s}",) for s in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")},
    "linear": ("classifier",),
}

_KNOWN_DISCREPANCIES: dict[str, str] = {
    "convolution 7x7/2": "paper prints 2.7K params / 34M ops (2.7K x 112 x 112 = 34M), but a 7x7x3x64 kernel "
                         "has 9.4K weights and costs 118M multiply-adds at 112 x 112",
    "inception (5a)": "paper prints 54M, but its own filter counts at 7 x 7 give 51M",
    "linear": "paper rounds 1024 x 1000 = 1.02M multiply-adds to 1M (and 1.02M params to 1000K)",
}


@dataclass(frozen=True)
class ComparisonRow:
    """Our multiply-adds for one paper stage next to the paper's printed ops, with their ratio."""

    stage: str
    ours_macs: int
    paper_ops: int
    ratio: float
    note: str
    ours_params: int
    paper_params: int


def paper_comparison(report: LayerReport) -> list[ComparisonRow]:
    """Return one ComparisonRow per Table 1 row for a report of a model at 3 x 224 x 224."""
    if report.input_size != (3, 224, 224):
        raise ValueError(f"Table 1 is for 3 x 224 x 224 inputs, the report is for {_shape_text(report.input_size)}; "
                         "build it with layer_report(InceptionV1(in_channels=3), 224)")
    rows = []
    for paper in PAPER_TABLE1:
        try:
            ours = [report[name] for name in _PAPER_STAGE_LAYERS[paper.name]]
        except KeyError as err:
            raise ValueError(f"the report lacks a layer Table 1 needs ({err}); report an InceptionV1") from None
        macs = sum(r.macs for r in ours)
        paper_ops = round(paper.ops_m * 1_000_000)
        rows.append(ComparisonRow(paper.name, macs, paper_ops, macs / paper_ops,
                                  _KNOWN_DISCREPANCIES.get(paper.name, ""), sum(r.params for r in ours),
                                  round(paper.params_k * 1000)))
    return rows


def comparison_to_markdown(rows: list[ComparisonRow]) -> str:
    """Return the comparison as a Markdown table (millions, ratio to two decimals)."""
    out = ["| stage | ours (M MACs) | paper (M ops) | ratio | ours params | paper params | note |",
           "|---|---:|---:|---:|---:|---:|---|"]
    out += [f"| {r.stage} | {r.ours_macs / 1e6:,.1f} | {r.paper_ops / 1e6:,.0f} | {r.ratio:.2f} "
            f"| {r.ours_params:,} | {r.paper_params:,} | {r.note} |" for r in rows]
    return "\n".join(out)


def torchsummary_table(preset: str = "seed", image_size: int = 224, num_classes: int = 1000,
                       in_channels: int = 3) -> str:
    """Return the text torchsummary prints for a fresh InceptionV1 of ``preset`` (CPU, no aux heads)."""
    from torchsummary import summary

    from ..model import InceptionV1

    model = InceptionV1(num_classes=num_classes, in_channels=in_channels, preset=preset)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        summary(model, (in_channels, image_size, image_size), device="cpu")
    return buffer.getvalue()


def trace_shapes(model: nn.Module, x: torch.Tensor) -> list:
    """Return [(stage name, output shape as a list)] for each top-level stage as `x` flows through."""
    shapes: list = [("input", list(x.shape))]
    hooks = [(child, lambda _m, _i, out, name=name: shapes.append((name, list(out.shape))))
             for name, child in model.named_children() if not name.startswith("aux")]
    with inspecting(model, hooks):
        logits = model(x)
    # torch.flatten is a function, not a module: show it where the forward applies it.
    shapes.insert(len(shapes) - 1, ("flatten", [x.shape[0], shapes[-2][1][1]]))
    shapes[-1] = (shapes[-1][0], list(logits.shape))
    return shapes


def module_cost(module: nn.Module, input_shape: Sequence[int]) -> dict:
    """Return {"params", "macs"} of one forward pass of `module` on a zero tensor of `input_shape`."""
    with inspecting(module), FlopCounterMode(display=False) as counter:  # eval mode, restored afterwards
        module(torch.zeros(*input_shape))
    return {"params": _count(module), "macs": counter.get_total_flops() // 2}


def preset_table(image_size: int = 224, num_classes: int = 1000) -> str:
    """Return a Markdown table comparing the three presets: parameters, multiply-adds and design choices."""
    from ..model import InceptionV1

    out = ["| preset | params | params with aux heads | multiply-adds | BatchNorm | LRN | \"5x5\" branch kernel "
           "| dropout |", "|---|---:|---:|---:|---|---|---|---:|"]
    for preset in ("seed", "torchvision", "paper"):
        model = InceptionV1(num_classes=num_classes, preset=preset)
        with_aux = InceptionV1(num_classes=num_classes, preset=preset, aux_logits=True)
        macs = module_cost(model, (1, 3, image_size, image_size))["macs"]
        kinds = {type(m).__name__ for m in model.modules()}
        kernel = max(m.kernel_size[0] for m in model.inception3a.branch3.modules() if isinstance(m, nn.Conv2d))
        out.append(f"| {preset} | {_count(model):,} | {_count(with_aux):,} | {macs / 1e9:.2f} G "
                   f"| {'yes' if 'BatchNorm2d' in kinds else 'no'} | {'yes' if 'LocalResponseNorm' in kinds else 'no'} "
                   f"| {kernel}x{kernel} | {model.dropout_p} |")
    return "\n".join(out)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
